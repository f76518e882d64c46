"""The deployment files agree with the code: the server entry point, compose.yaml, the image."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sndiag.settings import OIDC_VARIABLES, Settings

REPO = Path(__file__).resolve().parents[1]


def test_streamlit_run_app_py_serves_the_gated_st_app():
    """``streamlit run app.py`` (README, scripts/app.sh, the image) finds ``app = st.App(...)``
    and serves it, with the gate, instead of running app.py as a plain script."""
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(REPO / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"
    assert "streamlit run app.py" in (REPO / "scripts" / "app.sh").read_text()
    entry = re.search(r"^ENTRYPOINT (.+)$", (REPO / "Dockerfile").read_text(), re.M).group(1)
    assert entry.startswith('["streamlit", "run", "app.py"')


def test_app_options_put_the_gate_in_front(monkeypatch):
    from sndiag.ui.gate import AccessGate
    from sndiag.ui.server import app_options

    options = app_options(Settings.from_env({"SNDIAG_COOKIE_SECRET": "k" * 32}))
    assert [m.cls for m in options["middleware"]] == [AccessGate]
    assert {r.path for r in options["routes"]} == {"/_sndiag/signin", "/_sndiag/signin/{provider}"}
    assert options["secrets"] == {"auth": {"cookie_secret": "k" * 32}}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_compose_shows_both_modes(compose):
    services = compose["services"]
    assert set(services) == {"sndiag", "sndiag-oidc"}
    assert "SNDIAG_PASSWORD" in services["sndiag"]["environment"]
    oidc = services["sndiag-oidc"]
    assert oidc["profiles"] == ["oidc"]
    env = oidc["environment"]
    for variable in OIDC_VARIABLES.values():
        assert variable in env or f"{variable}_FILE" in env, variable
    # secrets as files: every *_FILE points at a secret the service mounts
    for key, value in env.items():
        if key.endswith("_FILE"):
            name = value.removeprefix("/run/secrets/")
            assert name in oidc["secrets"] and name in compose["secrets"], key
    for service in services.values():
        assert service["ports"] == ["8501:8501"] and "sndiag-store:/data" in service["volumes"]


def test_compose_variables_are_settings(compose):
    """Every SNDIAG_ variable compose sets is one the settings read (no typo goes unnoticed)."""
    text = (REPO / "sndiag" / "settings.py").read_text()
    for service in compose["services"].values():
        for key in service["environment"]:
            if key.startswith("SNDIAG_"):
                assert key.removesuffix("_FILE") in text, key
