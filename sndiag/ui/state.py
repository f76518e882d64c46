"""The dashboard's view state: session state, its defaults, and the shareable URL.

Everything that defines *what a user is looking at* lives in one place, under canonical keys of
``st.session_state`` (below), and is mirrored to ``st.query_params`` so a copied link opened in a
fresh browser - or after a server restart - shows the same view:

=============  =====================  ==================================================
query param    session key            meaning
=============  =====================  ==================================================
``ds``         ``ds_id``              dataset content hash (absent: the FSDD sample)
``snr_mode``   ``mask``               the :class:`~sndiag.masks.MaskSpec`, through its own
``snr``                               codec (:meth:`~sndiag.masks.MaskSpec.to_query`):
``rows``                              SNR rule ``abs``/``pct`` and its value, rows by hand
``auto``                              (``0-4,17``), ``1`` for the auto-flagged rows
``scalers``    ``scalers``            ``standard,band`` (chains too: ``db+band``)
``premask``    ``apply_mask``         ``1``: apply the mask before the scalers
``clip``       ``clip``               example clip index
``p.S.K``      ``scaler_params``      option ``K`` of scaler ``S``, e.g. ``p.std_floor.floor_percentile=25``
=============  =====================  ==================================================

The page itself is the URL path (``st.navigation`` with ``url_path``). Scaler options in a link
are checked against the ranges the scaler registry declares (:class:`~sndiag.scalers.Option`).

Widgets never own the canonical value: Streamlit drops a widget's state when its page is not
shown, so each widget gets its own key (``w_<key>``, seeded from the canonical value by
:func:`bind`) and writes its value back after rendering (:func:`widget`; the mask's fields with
:func:`mask_widget`). The pure functions :func:`parse_view` and :func:`view_params` convert
between query parameters and state and are tested without Streamlit.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sndiag.errors import ParameterError
from sndiag.masks import MaskSpec
from sndiag.text import markdown

__all__ = [
    "DEFAULTS",
    "MASK_WIDGETS",
    "SHOWN_SCALERS",
    "bind",
    "init",
    "mask",
    "mask_widget",
    "notice",
    "open_dataset",
    "parse_view",
    "pop_notices",
    "set_mask",
    "set_value",
    "sync_query_params",
    "view_params",
    "widget",
]

#: Scalers shown side by side on the Scalers page until the user picks others.
SHOWN_SCALERS = ("standard", "std_floor", "band", "robust")

#: Canonical session keys and their defaults (deep-copied into each session).
DEFAULTS: dict[str, Any] = {
    "ds_id": None,
    "mask": MaskSpec(),
    "scalers": list(SHOWN_SCALERS),
    "scaler_params": {},
    "apply_mask": False,
    "clip": 0,
}
#: The widget key of each :class:`MaskSpec` field (tests and the Mask page address them).
MASK_WIDGETS = {"mode": "w_mask_mode", "threshold": "w_snr_abs", "percentile": "w_snr_pct",
                "rows": "w_mask_rows", "auto": "w_auto_flag"}

_TRUE = {"1", "true", "yes", "on"}


# -- pure conversions -------------------------------------------------------------------------
def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        return str(value[-1]) if value else ""
    return str(value)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_view(params: Mapping[str, Any], *, known_scalers: Iterable[str] | None = None
               ) -> tuple[dict[str, Any], list[str]]:
    """Query parameters -> (state updates, notes about values that were ignored).

    Unknown parameters are ignored silently; malformed values of known ones are ignored with a
    note, so a hand-edited link never breaks the app. Scaler names may be chains (``db+band``);
    scaler options are checked against the registry's declared ranges.

    Examples
    --------
    >>> updates, notes = parse_view({"snr_mode": "abs", "snr": "0.8", "rows": "0-2",
    ...                              "scalers": "standard,nope", "clip": "x"},
    ...                             known_scalers=["standard", "band"])
    >>> updates["mask"].spec, updates["scalers"]
    ('snr<0.8+rows:0-2', ['standard'])
    >>> notes
    ["unknown scaler 'nope' in the link was ignored", "clip='x' in the link is not a clip number; ignored"]
    >>> parse_view({"p.pcen.time_constant": "1e300"})[1]
    ['p.pcen.time_constant=1e300 in the link: time_constant=1e+300 is outside 0.001..10; ignored']
    """
    p = {k: _first(v) for k, v in params.items()}
    up: dict[str, Any] = {}
    notes: list[str] = []
    if p.get("ds"):
        up["ds_id"] = p["ds"].strip().lower()
    if any(k in p for k in ("snr_mode", "snr", "rows", "auto")):
        up["mask"], notes = MaskSpec.from_query(p)
    if "premask" in p:
        up["apply_mask"] = p["premask"].lower() in _TRUE
    if "scalers" in p:
        names = [s.strip() for s in p["scalers"].split(",") if s.strip()]
        if known_scalers is not None:
            known = set(known_scalers)
            ok = [s for s in names if s in known or _is_chain(s)]
            notes += [f"unknown scaler {s!r} in the link was ignored" for s in names
                      if s not in ok]
            names = ok
        up["scalers"] = list(dict.fromkeys(names))
    if "clip" in p:
        try:
            clip = int(p["clip"])
            if clip < 0:
                raise ValueError
            up["clip"] = clip
        except ValueError:
            notes.append(f"clip={p['clip']!r} in the link is not a clip number; ignored")
    sp: dict[str, dict[str, Any]] = {}
    for key, raw in p.items():
        if not key.startswith("p.") or key.count(".") != 2:
            continue
        _, scaler, option = key.split(".")
        try:
            value = _number(raw)
        except ValueError:
            value = raw.lower() in _TRUE if raw.lower() in (_TRUE | {"0", "false", "no", "off"}) \
                else raw
        try:
            value = _check_option(scaler, option, value)
        except ParameterError as exc:
            notes.append(f"{key}={raw} in the link: {exc}; ignored")
            continue
        sp.setdefault(scaler, {})[option] = value
    if sp:
        up["scaler_params"] = sp
    return up, notes


def _is_chain(name: str) -> bool:
    """Whether ``name`` is a valid composition such as ``db+band``."""
    if "+" not in name:
        return False
    from sndiag.scalers import make_scaler

    try:
        make_scaler(name)
    except ParameterError:
        return False
    return True


def _check_option(scaler: str, option: str, value: Any) -> Any:
    """A link's scaler option checked against the registry's declared options and ranges."""
    from sndiag.scalers import SCALERS

    info = SCALERS.get(scaler)
    if info is None:
        raise ParameterError(f"unknown scaler {scaler!r}")
    return info.check_options({option: value})[option]


def _fmt_number(value: float) -> str:
    return f"{float(value):.6g}"


def view_params(state: Mapping[str, Any], *, demo_id: str | None = None) -> dict[str, str]:
    """State -> query parameters (only what differs from the defaults, so links stay short).

    Examples
    --------
    >>> view_params({**DEFAULTS, "mask": MaskSpec(mode="abs", threshold=0.8, rows=(0, 1, 5)),
    ...              "scalers": ["band"], "ds_id": "ab" * 32})["rows"]
    '0-1,5'
    >>> view_params(DEFAULTS)
    {}
    """
    out: dict[str, str] = {}
    ds = state.get("ds_id")
    if ds and ds != demo_id:
        out["ds"] = str(ds)
    spec = state.get("mask") or MaskSpec()
    out.update(spec.to_query())
    scalers = list(state.get("scalers", DEFAULTS["scalers"]))
    if scalers != list(DEFAULTS["scalers"]):
        out["scalers"] = ",".join(scalers)
    if state.get("apply_mask"):
        out["premask"] = "1"
    if int(state.get("clip", 0) or 0):
        out["clip"] = str(int(state["clip"]))
    for scaler, options in sorted((state.get("scaler_params") or {}).items()):
        for option, value in sorted(options.items()):
            if isinstance(value, bool):
                text = "1" if value else "0"
            elif isinstance(value, int | float):
                text = _fmt_number(value)
            else:
                text = str(value)
            out[f"p.{scaler}.{option}"] = text
    return out


# -- Streamlit glue ---------------------------------------------------------------------------
def _st() -> Any:
    import streamlit as st

    return st


def init(*, known_scalers: Iterable[str] | None = None) -> None:
    """Fill missing session keys with defaults; read the link's query params once per session."""
    st = _st()
    ss = st.session_state
    for key, value in DEFAULTS.items():
        if key not in ss:
            ss[key] = copy.deepcopy(value)
    if ss.get("_query_read"):
        return
    ss["_query_read"] = True
    try:
        params = st.query_params.to_dict()
    except Exception:  # noqa: BLE001 - no query string available (bare runs)
        params = {}
    updates, notes = parse_view(params, known_scalers=known_scalers)
    for key, value in updates.items():
        if key == "mask":
            set_mask(value)
        else:
            set_value(key, value)
    for n in notes:
        notice(markdown(n))  # they quote the link's values


def notice(text: str, kind: str = "warning") -> None:
    """Queue a message shown once at the top of the next rendered page."""
    st = _st()
    st.session_state.setdefault("_notices", []).append((kind, text))


def pop_notices() -> list[tuple[str, str]]:
    st = _st()
    return st.session_state.pop("_notices", [])


def set_value(key: str, value: Any) -> None:
    """Change a canonical value programmatically (its widget is re-seeded on its next render)."""
    st = _st()
    st.session_state[key] = value
    st.session_state.pop(f"w_{key}", None)


def bind(key: str, *, valid: Callable[[Any], Any] | None = None, default: Any = None) -> str:
    """The widget key of canonical ``key``, seeded from the canonical value when missing.

    ``valid`` maps the canonical value to one the widget accepts (e.g. clamps a clip index to
    the dataset); the widget's own value is kept when it is already valid. ``default`` is the
    canonical value of a key that is not in :data:`DEFAULTS` (page-local settings).
    """
    st = _st()
    ss = st.session_state
    wk = f"w_{key}"
    if key not in ss:
        ss[key] = copy.deepcopy(default)
    if valid is not None:
        ss[key] = valid(ss[key])
    if wk not in ss:
        ss[wk] = copy.deepcopy(ss[key])
    elif valid is not None:
        fixed = valid(ss[wk])
        if fixed != ss[wk]:
            ss[wk] = fixed
    return wk


def widget(fn: Callable[..., Any], key: str, *args: Any, valid: Callable[[Any], Any] | None = None,
           default: Any = None, **kwargs: Any) -> Any:
    """Render widget ``fn`` bound to canonical state ``key`` and return its value.

    Examples
    --------
    ``state.widget(st.slider, "clip", "Clip", min_value=0, max_value=9)`` renders a slider with
    key ``w_clip`` whose value survives page switches.
    """
    st = _st()
    wk = bind(key, valid=valid, default=default)
    value = fn(*args, key=wk, **kwargs)
    st.session_state[key] = copy.deepcopy(value)
    return value


def mask() -> MaskSpec:
    """The session's :class:`MaskSpec`."""
    st = _st()
    spec = st.session_state.get("mask")
    return spec if isinstance(spec, MaskSpec) else MaskSpec()


def set_mask(spec: MaskSpec) -> None:
    """Change the session's mask programmatically (its widgets are re-seeded from it)."""
    st = _st()
    st.session_state["mask"] = spec
    for wk in MASK_WIDGETS.values():
        st.session_state.pop(wk, None)


def mask_widget(fn: Callable[..., Any], field: str, *args: Any,
                valid: Callable[[Any], Any] | None = None, seed: Any = None,
                **kwargs: Any) -> Any:
    """Render widget ``fn`` for one :class:`MaskSpec` field and write its value into the spec.

    ``seed`` is the widget's first value when the field has none (the proposed threshold);
    ``valid`` maps a value to one the widget accepts.
    """
    st = _st()
    ss = st.session_state
    wk = MASK_WIDGETS[field]
    current = getattr(mask(), field)
    if field == "rows":
        current = list(current)
    if current is None:
        current = seed
    if wk not in ss:
        ss[wk] = valid(current) if valid is not None else current
    elif valid is not None:
        fixed = valid(ss[wk])
        if fixed != ss[wk]:
            ss[wk] = fixed
    value = fn(*args, key=wk, **kwargs)
    new = tuple(value) if field == "rows" else value
    if getattr(mask(), field) != new:
        ss["mask"] = mask().replace(**{field: new})
    return value


def open_dataset(ds_id: str) -> None:
    """Switch the view to dataset ``ds_id``: first clip, no hand-picked or auto-flagged rows
    (they were for the previous dataset's bands), the threshold proposed anew; the SNR rule and
    the scalers stay."""
    set_value("ds_id", ds_id)
    set_value("clip", 0)
    set_mask(mask().replace(rows=(), auto=False, threshold=None))


def sync_query_params(*, demo_id: str | None = None, page: str | None = None) -> None:
    """Write the current view to ``st.query_params`` when it differs from the URL.

    ``page`` is the page's URL path: on a page switch the browser drops the query string from
    the address bar while Streamlit still reports the old one, so the view is written again.
    """
    st = _st()
    want = view_params(st.session_state, demo_id=demo_id)
    have = {k: _first(v) for k, v in st.query_params.to_dict().items()}
    switched = page is not None and st.session_state.get("_last_page") != page
    st.session_state["_last_page"] = page
    if have != want or (switched and want):
        st.query_params.from_dict(want)
