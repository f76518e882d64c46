"""AccessGate as plain ASGI middleware around a stand-in app (no Streamlit server)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

from sndiag.auth import AccessConfig
from sndiag.ui.gate import AccessGate, Gate


def _inner() -> Starlette:
    async def ok(request):
        return PlainTextResponse("inner")

    async def ws(websocket):
        await websocket.accept()
        await websocket.send_text("inner")
        await websocket.close()

    return Starlette(routes=[Route("/{path:path}", ok, methods=["GET", "PUT"]),
                             WebSocketRoute("/_stcore/stream", ws)])


def _client(resolve) -> TestClient:
    return TestClient(AccessGate(_inner(), Gate(resolve)), follow_redirects=False)


def test_open_instance_passes_everything_through():
    client = _client(lambda: AccessConfig())
    assert client.put("/_stcore/upload_file/s/f", content=b"x").text == "inner"
    with client.websocket_connect("/_stcore/stream") as ws:
        assert ws.receive_text() == "inner"


def test_password_instance_refuses_before_the_app():
    client = _client(lambda: AccessConfig(password="pw"))
    assert client.get("/_stcore/health").text == "inner"
    assert client.put("/_stcore/upload_file/s/f", content=b"x" * 1000).status_code == 401
    page = client.get("/mask?clip=1", headers={"Accept": "text/html"})
    assert (page.status_code, page.headers["location"]) == (
        303, "/_sndiag/signin?next=%2Fmask%3Fclip%3D1")
    with pytest.raises(Exception) as refused:  # the handshake is answered 401, never accepted
        with client.websocket_connect("/_stcore/stream"):
            pass
    assert "401" in repr(refused.value) or getattr(refused.value, "status_code", None) == 401


def test_unreadable_access_control_fails_closed():
    def broken() -> AccessConfig:
        raise ValueError("secrets.toml: bad TOML")

    client = _client(broken)
    for path in ("/", "/_stcore/health", "/_sndiag/signin"):
        assert client.get(path).status_code == 503
