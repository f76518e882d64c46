"""Raw HTTP and WebSocket probes of a running dashboard, the way a hostile client talks to it.

No browser and no Streamlit frontend: a WebSocket handshake by hand (:func:`upgrade_status`),
a real Streamlit session over a WebSocket (:func:`open_session`, which reads the session id the
server sends), an upload by hand (:func:`put_upload`: headers first, then the body only if the
server has not answered yet), and a password sign-in through the sign-in form
(:func:`password_sign_in`). ``_streamlit_xsrf`` cookies are made here like the frontend's.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import select
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["Upload", "open_session", "password_sign_in", "put_upload", "server_rss",
           "upgrade_status", "xsrf_token"]

MB = 1024 * 1024


def xsrf_token() -> str:
    """A fresh XSRF token in Streamlit's format (used as cookie and header alike)."""
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    return generate_xsrf_token_string()


def _cookie_header(cookies: Mapping[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def _connect(base_url: str) -> tuple[socket.socket, str]:
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=30)
    return sock, parts.netloc


def _status(sock: socket.socket, timeout: float) -> int | None:
    """The status code of the response on ``sock``, or None if none came within ``timeout``."""
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        return None
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else None


def upgrade_status(base_url: str, cookies: Mapping[str, str] | None = None,
                   path: str = "/_stcore/stream") -> int:
    """Status of a WebSocket handshake to ``path`` (101: accepted)."""
    token = xsrf_token()
    jar = {"_streamlit_xsrf": token, **(cookies or {})}
    sock, host = _connect(base_url)
    with sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n"
                      f"Sec-WebSocket-Protocol: streamlit, {token}\r\n"
                      f"Cookie: {_cookie_header(jar)}\r\n\r\n").encode())
        status = _status(sock, 30)
    assert status is not None, "no answer to the WebSocket handshake"
    return status


@contextlib.contextmanager
def open_session(base_url: str, cookies: Mapping[str, str] | None = None
                 ) -> Iterator[tuple[Any, str, str]]:
    """A Streamlit session over a WebSocket: yields (connection, session id, xsrf token)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    token = xsrf_token()
    parts = urlsplit(base_url)
    jar = {"_streamlit_xsrf": token, **(cookies or {})}
    with connect(f"ws://{parts.netloc}/_stcore/stream", subprotocols=["streamlit", token],
                 additional_headers={"Cookie": _cookie_header(jar)},
                 origin=f"http://{parts.netloc}", open_timeout=30) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        rerun.rerun_script.page_script_hash = ""
        ws.send(rerun.SerializeToString())  # what the frontend sends first: run the page
        session_id = ""
        for _ in range(50):
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=60))
            if msg.HasField("new_session"):
                session_id = msg.new_session.initialize.session_id
                break
        assert session_id, "the server sent no session id"
        yield ws, session_id, token


@dataclass
class Upload:
    """What happened to one upload: the status, and how much of the body the server took."""

    status: int | None
    sent: int
    answered_before_body: bool


def put_upload(base_url: str, session_id: str, size: int, *,
               cookies: Mapping[str, str] | None = None, xsrf: str | None = None,
               file_id: str = "probe", wait_for_answer: bool = True) -> Upload:
    """``PUT /_stcore/upload_file/<session>/<file_id>`` with a ``size``-byte multipart body.

    The headers go first. With ``wait_for_answer``, if the server answers within 2 s the body
    is not sent (a gate refuses before reading); otherwise, and always without it, the body is
    sent in 1 MB pieces until done or the server closes the connection, then the answer is read.
    """
    token = xsrf or xsrf_token()
    jar = {"_streamlit_xsrf": token, **(cookies or {})}
    boundary = "sndiagprobe"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"probe.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    total = len(head) + size + len(tail)
    sock, host = _connect(base_url)
    with sock:
        sock.sendall((f"PUT /_stcore/upload_file/{session_id}/{file_id} HTTP/1.1\r\n"
                      f"Host: {host}\r\nContent-Type: multipart/form-data; boundary={boundary}"
                      f"\r\nContent-Length: {total}\r\nX-Xsrftoken: {token}\r\n"
                      f"Origin: http://{host}\r\nCookie: {_cookie_header(jar)}\r\n\r\n").encode())
        status = _status(sock, 2.0) if wait_for_answer else None
        if status is not None:
            return Upload(status, 0, True)
        sent = 0
        piece = b"\0" * MB
        try:
            sock.sendall(head)
            while sent < size:
                n = min(MB, size - sent)
                sock.sendall(piece[:n])
                sent += n
            sock.sendall(tail)
        except OSError:  # the server closed the connection: refused midway
            pass
        try:
            status = _status(sock, 60)
        except OSError:
            status = None
        return Upload(status, sent, False)


def password_sign_in(base_url: str, password: str, *, name: str = "",
                     session: requests.Session | None = None,
                     next_link: str = "/") -> requests.Response:
    """Fill in and send the sign-in form as a browser would (the CSRF cookie and field
    included); returns the answer to the POST (not following its redirect)."""
    http = session or requests.Session()
    form = http.get(f"{base_url}/_sndiag/signin", params={"next": next_link}, timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, f"no sign-in form at {base_url}/_sndiag/signin ({form.status_code})"
    return http.post(f"{base_url}/_sndiag/signin", timeout=30, allow_redirects=False,
                     data={"csrf": csrf.group(1), "next": next_link, "password": password,
                           "name": name}, headers={"Origin": base_url})


def server_rss(pid: int) -> int:
    """Resident memory of the server process ``pid`` and its children, in bytes."""
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
