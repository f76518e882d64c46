"""User-supplied strings shown through ``st.markdown`` (and ``st.caption``, ``st.subheader``,
``st.error``, notices) are escaped for Markdown as well as HTML; a link's scaler options are
checked against the registry's declared ranges.

* A dataset named ``[Session expired - sign in again](https://evil.example/login)`` (its
  provenance name) is shown literally on every page: no element's Markdown holds a live link
  (before: a link in every page's sidebar). Labels, groups and clip names likewise.
* ``/scalers?...&scalers=pcen&p.pcen.time_constant=1e300`` shows a notice and the page (before:
  "Something went wrong (OverflowError)"); every declared option of every scaler refuses values
  outside its range, and every value inside it fits without error.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sndiag.dataset import Dataset
from sndiag.errors import ParameterError
from sndiag.scalers import SCALERS, make_scaler
from sndiag.store import FileStore
from sndiag.text import markdown
from tests.hostile.conftest import shown, spectrograms

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from sndiag.ui.state import parse_view  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PAGES = ["pages/data.py", "pages/statistics.py", "pages/mask.py", "pages/scalers.py",
         "pages/experiment.py", "pages/export.py"]
PHISH = "[Session expired - sign in again](https://evil.example/login)"
LABEL = "**bold** <img src=x onerror=alert(1)> :red[alarm]"
#: A Markdown link or an autolinked URL, as a renderer would see it in unescaped text.
LIVE_LINK = re.compile(r"(?<!\\)\]\((?!\s)|(?<!\\)https?(?<!\\):(?!\s)//|(?<!\\)<img")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("SNDIAG_FEATURE_CACHE", str(tmp_path / "features"))
    monkeypatch.delenv("SNDIAG_DATA_ROOT", raising=False)
    monkeypatch.delenv("SNDIAG_PASSWORD", raising=False)
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=60)


def _markdown_texts(at: AppTest) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "subheader", "title", "error", "warning", "info",
                 "success"):
        out += [str(e.value) for e in at.get(kind)]
    return out


def test_phishing_name_and_labels_are_shown_literally(app: AppTest, tmp_path: Path) -> None:
    ds = Dataset(spectrograms(8), y=[LABEL, "b"] * 4, groups=[PHISH, "g"] * 4,
                 names=[f"{PHISH}{i}.wav" for i in range(8)], provenance={"name": PHISH})
    entry = FileStore(tmp_path / "store").put(ds)
    app.query_params["ds"] = entry.dataset_id
    app.run()
    seen_on = []
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, (page, [e.value for e in app.exception])
        for text in _markdown_texts(app):
            assert not LIVE_LINK.search(text), (page, text)
            assert "**bold**" not in text and ":red[" not in text, (page, text)
        if any(markdown(PHISH) in t for t in _markdown_texts(app)):
            seen_on.append(page)
    assert len(seen_on) >= 4, seen_on  # the sidebar of every page that renders one


def test_link_with_an_overflowing_option_shows_the_page(app: AppTest) -> None:
    app.query_params["scalers"] = "pcen"
    app.query_params["p.pcen.time_constant"] = "1e300"
    app.query_params["p.std_floor.floor_percentile"] = "[x](https://evil.example)"
    app.run()
    warnings = [w.value for w in app.warning]
    assert any("time_constant=1e+300 is outside 0.001..10" in shown(w) for w in warnings), warnings
    assert not any(LIVE_LINK.search(w) for w in warnings), warnings
    app.switch_page("pages/scalers.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert not [e.value for e in app.error], [e.value for e in app.error]


OPTIONS = [(name, opt) for name, info in SCALERS.items() for opt in info.options
           if opt.kind in ("int", "float")]


@pytest.mark.parametrize(("scaler", "option"), OPTIONS,
                         ids=[f"{n}.{o.name}" for n, o in OPTIONS])
@pytest.mark.parametrize("raw", ["1e300", "-1e300", "nan", "inf", "1e-320"])
def test_link_options_outside_the_declared_range_are_ignored(scaler: str, option: object,
                                                             raw: str) -> None:
    updates, notes = parse_view({f"p.{scaler}.{option.name}": raw})  # type: ignore[attr-defined]
    value = (updates.get("scaler_params") or {}).get(scaler, {}).get(option.name)  # type: ignore[attr-defined]
    if value is None:
        assert len(notes) == 1 and "ignored" in notes[0]
    else:  # inside the range (e.g. 1e-320 >= 0): it must then fit
        _fits(scaler, option.name, value)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("scaler", "option"), OPTIONS,
                         ids=[f"{n}.{o.name}" for n, o in OPTIONS])
def test_every_declared_value_fits(scaler: str, option: object) -> None:
    for bound in (option.low, option.high):  # type: ignore[attr-defined]
        if bound is not None:
            _fits(scaler, option.name, option.check(bound))  # type: ignore[attr-defined]


def _fits(scaler: str, option: str, value: object) -> None:
    X = spectrograms(6, (8, 10))
    try:
        est = make_scaler(scaler, shape=(8, 10), **{option: value})
        with np.errstate(all="ignore"):
            est.fit_transform(X)
    except ParameterError:
        pass  # refused with a message: fine
