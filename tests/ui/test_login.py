"""The password gate: with SNDIAG_PASSWORD set, only a login form renders until it is given."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def gated(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path))
    monkeypatch.setenv("SNDIAG_PASSWORD", "open sesame")
    return AppTest.from_file(APP, default_timeout=60)


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.markdown, *at.title, *at.caption, *at.info])


def test_login_gate_shows_only_the_form(gated):
    at = gated.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Password"]
    assert "fsdd sample" not in _texts(at).lower()
    assert not at.get("plotly_chart")


def test_login_gate_refuses_wrong_then_accepts_right(gated, monkeypatch):
    monkeypatch.setattr("sndiag.ui.login.time.sleep", lambda s: None)
    at = gated.run()
    at.text_input[0].input("wrong")
    at.button[0].click()
    at.run()
    assert "Wrong password" in " ".join(e.value for e in at.error)
    assert [t.label for t in at.text_input] == ["Password"]
    at.text_input[0].input("open sesame")
    at.button[0].click()
    at.run()
    assert not at.exception
    assert "Password" not in [t.label for t in at.text_input]
    assert "fsdd sample" in _texts(at).lower()


def test_no_password_means_no_gate(tmp_path, monkeypatch):
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path))
    monkeypatch.delenv("SNDIAG_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "Password" not in [t.label for t in at.text_input]
