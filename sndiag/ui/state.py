"""The dashboard's view state: session state, its defaults, and the shareable URL.

Everything that defines *what a user is looking at* lives in one place, under canonical keys of
``st.session_state`` (below), and is mirrored to ``st.query_params`` so a copied link opened in a
fresh browser - or after a server restart - shows the same view:

=============  =====================  ==================================================
query param    session key            meaning
=============  =====================  ==================================================
``ds``         ``ds_id``              dataset content hash (absent: the synthetic demo)
``snr_mode``   ``mask_mode``          ``abs`` (threshold) or ``pct`` (percentile); absent: off
``snr``        ``snr_abs``/``snr_pct`` the threshold of the active mode
``rows``       ``mask_rows``          rows masked by hand, e.g. ``0-4,17``
``auto``       ``auto_flag``          ``1``: auto-flagged rows pre-selected
``scalers``    ``scalers``            ``standard,band``
``premask``    ``apply_mask``         ``1``: apply the mask before the scalers
``clip``       ``clip``               example clip index
``p.S.K``      ``scaler_params``      option ``K`` of scaler ``S``, e.g. ``p.std_floor.floor_percentile=25``
=============  =====================  ==================================================

The page itself is the URL path (``st.navigation`` with ``url_path``).

Widgets never own the canonical value: Streamlit drops a widget's state when its page is not
shown, so each widget gets its own key (``w_<key>``, seeded from the canonical value by
:func:`bind`) and writes its value back after rendering (:func:`widget`). The pure functions
:func:`parse_view` and :func:`view_params` convert between query parameters and state and are
tested without Streamlit.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "DEFAULTS",
    "DEFAULT_SCALERS",
    "MASK_MODES",
    "bind",
    "format_rows",
    "init",
    "parse_rows",
    "parse_view",
    "pop_notices",
    "notice",
    "open_dataset",
    "set_value",
    "sync_query_params",
    "view_params",
    "widget",
]

#: Scalers shown on the Scalers page until the user picks others.
DEFAULT_SCALERS = ("standard", "std_floor", "band", "robust")
#: Mask modes: no SNR rule, an absolute |row SNR| threshold, or a percentile of row SNRs.
MASK_MODES = ("off", "abs", "pct")

#: Canonical session keys and their defaults (deep-copied into each session).
DEFAULTS: dict[str, Any] = {
    "ds_id": None,
    "mask_mode": "off",
    "snr_abs": 0.5,
    "snr_abs_auto": True,  # not chosen yet: the Mask page proposes one from the data
    "snr_pct": 10.0,
    "mask_rows": [],
    "auto_flag": False,
    "scalers": list(DEFAULT_SCALERS),
    "scaler_params": {},
    "apply_mask": False,
    "clip": 0,
}

_TRUE = {"1", "true", "yes", "on"}


# -- pure conversions -------------------------------------------------------------------------
def format_rows(rows: Iterable[int]) -> str:
    """``[0, 1, 2, 17]`` -> ``"0-2,17"`` (URL-friendly: no spaces).

    Examples
    --------
    >>> format_rows([17, 0, 1, 2])
    '0-2,17'
    >>> format_rows([])
    ''
    """
    values = sorted({int(r) for r in rows})
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(parts)


def parse_rows(text: str, *, limit: int = 4096) -> list[int]:
    """``"0-2,17"`` -> ``[0, 1, 2, 17]``; raises ValueError on anything else.

    Examples
    --------
    >>> parse_rows("0-2, 17")
    [0, 1, 2, 17]
    """
    rows: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        lo_s, sep, hi_s = part.partition("-")
        lo, hi = int(lo_s), int(hi_s) if sep else int(lo_s)
        if lo < 0 or hi < lo or hi >= limit:
            raise ValueError(part)
        rows.update(range(lo, hi + 1))
    return sorted(rows)


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
    note, so a hand-edited link never breaks the app.

    Examples
    --------
    >>> updates, notes = parse_view({"snr_mode": "abs", "snr": "0.8", "rows": "0-2",
    ...                              "scalers": "standard,nope", "clip": "x"},
    ...                             known_scalers=["standard", "band"])
    >>> updates["mask_mode"], updates["snr_abs"], updates["mask_rows"], updates["scalers"]
    ('abs', 0.8, [0, 1, 2], ['standard'])
    >>> notes
    ["unknown scaler 'nope' in the link was ignored", "clip='x' in the link is not a clip number; ignored"]
    """
    p = {k: _first(v) for k, v in params.items()}
    up: dict[str, Any] = {}
    notes: list[str] = []
    if p.get("ds"):
        up["ds_id"] = p["ds"].strip().lower()
    mode = p.get("snr_mode")
    if mode is not None:
        if mode in MASK_MODES:
            up["mask_mode"] = mode
        else:
            notes.append(f"snr_mode={mode!r} in the link must be abs or pct; ignored")
    if "snr" in p:
        try:
            value = _number(p["snr"])
        except ValueError:
            notes.append(f"snr={p['snr']!r} in the link is not a number; ignored")
        else:
            if up.get("mask_mode", "abs") == "pct":
                if 0 <= value <= 100:
                    up["snr_pct"] = value
                else:
                    notes.append(f"snr={value:g} in the link is not a percentile (0-100); ignored")
            elif value >= 0:
                up["snr_abs"] = value
                up["snr_abs_auto"] = False
                up.setdefault("mask_mode", "abs")
            else:
                notes.append(f"snr={value:g} in the link must be >= 0; ignored")
    if "rows" in p:
        try:
            up["mask_rows"] = parse_rows(p["rows"])
        except ValueError:
            notes.append(f"rows={p['rows']!r} in the link is not like 0-4,17; ignored")
    if "auto" in p:
        up["auto_flag"] = p["auto"].lower() in _TRUE
    if "premask" in p:
        up["apply_mask"] = p["premask"].lower() in _TRUE
    if "scalers" in p:
        names = [s.strip() for s in p["scalers"].split(",") if s.strip()]
        if known_scalers is not None:
            known = set(known_scalers)
            for s in names:
                if s not in known:
                    notes.append(f"unknown scaler {s!r} in the link was ignored")
            names = [s for s in names if s in known]
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
        sp.setdefault(scaler, {})[option] = value
    if sp:
        up["scaler_params"] = sp
    return up, notes


def _fmt_number(value: float) -> str:
    return f"{float(value):.6g}"


def view_params(state: Mapping[str, Any], *, demo_id: str | None = None) -> dict[str, str]:
    """State -> query parameters (only what differs from the defaults, so links stay short).

    Examples
    --------
    >>> view_params({**DEFAULTS, "mask_mode": "abs", "snr_abs": 0.8, "mask_rows": [0, 1, 5],
    ...              "scalers": ["band"], "ds_id": "ab" * 32})["snr"]
    '0.8'
    >>> view_params(DEFAULTS)
    {}
    """
    out: dict[str, str] = {}
    ds = state.get("ds_id")
    if ds and ds != demo_id:
        out["ds"] = str(ds)
    mode = state.get("mask_mode", "off")
    if mode == "abs":
        out["snr_mode"] = "abs"
        out["snr"] = _fmt_number(state.get("snr_abs", DEFAULTS["snr_abs"]))
    elif mode == "pct":
        out["snr_mode"] = "pct"
        out["snr"] = _fmt_number(state.get("snr_pct", DEFAULTS["snr_pct"]))
    rows = state.get("mask_rows") or []
    if rows:
        out["rows"] = format_rows(rows)
    if state.get("auto_flag"):
        out["auto"] = "1"
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
        set_value(key, value)
    for n in notes:
        notice(n)


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
    ``state.widget(st.slider, "snr_abs", "SNR threshold", min_value=0.0, max_value=5.0)``
    renders a slider with key ``w_snr_abs`` whose value survives page switches.
    """
    st = _st()
    wk = bind(key, valid=valid, default=default)
    value = fn(*args, key=wk, **kwargs)
    st.session_state[key] = copy.deepcopy(value)
    return value


def open_dataset(ds_id: str) -> None:
    """Switch the view to dataset ``ds_id``: first clip, no hand-picked rows (they were for the
    previous dataset's bands); the SNR rule and the scalers stay."""
    set_value("ds_id", ds_id)
    set_value("clip", 0)
    set_value("mask_rows", [])
    set_value("auto_flag", False)
    set_value("snr_abs_auto", True)


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
