"""Run the dashboard (``streamlit run app.py``) as a child process on a free loopback port.

``streamlit run app.py`` serves the gated ``st.App`` that ``app.py`` builds (the access gate in
front of every route), as ``bash scripts/app.sh`` and the Docker image do.

Used by the browser tests, the load test and the screenshot script, which all need a real server:
:func:`start_app` launches it in its own process group with a given store, :meth:`AppServer.wait_ready`
polls ``/_stcore/health``, :meth:`AppServer.stop` ends the whole group (SIGTERM, then SIGKILL).
:func:`running_app` does all three around a ``with`` block. Nothing here imports Streamlit.

Examples
--------
>>> port = free_port()
>>> 1024 <= port < 65536 and not healthy(f"http://127.0.0.1:{port}")
True
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IDLE_JS", "AppServer", "free_port", "healthy", "running_app", "start_app"]

#: The repository holding ``app.py`` (the package sits next to it).
REPO = Path(__file__).resolve().parents[2]
#: Variables of the caller's environment that would change what the child serves.
_CLEARED = ("SNDIAG_DATA_ROOT", "SNDIAG_PASSWORD", "SNDIAG_PASSWORD_FILE", "SNDIAG_COOKIE_SECRET",
            "SNDIAG_COOKIE_SECRET_FILE", "SNDIAG_OIDC_SERVER_METADATA_URL", "SNDIAG_OIDC_CLIENT_ID",
            "SNDIAG_OIDC_CLIENT_SECRET", "SNDIAG_OIDC_CLIENT_SECRET_FILE", "SNDIAG_OIDC_REDIRECT_URI",
            "SNDIAG_OIDC_PROVIDER", "SNDIAG_ALLOWED_USERS", "SNDIAG_ADMINS")
#: A browser-side predicate (Playwright ``page.wait_for_function``): the page is connected to
#: the server, no script run is in progress and no "Running..." indicator is shown.
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stStatusWidget"]');
}"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(base_url: str) -> bool:
    """Whether ``base_url/_stcore/health`` answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class AppServer:
    """A dashboard process started by :func:`start_app`."""

    proc: subprocess.Popen
    base_url: str
    log_path: Path

    def log(self, tail: int | None = None) -> str:
        """The server's output so far (its last ``tail`` lines)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return text if tail is None else "\n".join(text.splitlines()[-tail:])

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Seconds until the health endpoint answered; RuntimeError (with the log) otherwise."""
        t0 = time.monotonic()
        while not healthy(self.base_url):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited with code {self.proc.returncode}:\n"
                                   f"{self.log(40)}")
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"the dashboard did not answer {self.base_url}/_stcore/health "
                                   f"within {timeout:.0f} s:\n{self.log(40)}")
            time.sleep(0.3)
        return time.monotonic() - t0

    def stop(self) -> None:
        """SIGTERM the server's own process group (it may have started workers), then SIGKILL."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def start_app(store: str | os.PathLike[str], log_path: str | os.PathLike[str], *,
              env: Mapping[str, str] | None = None, app_dir: str | os.PathLike[str] = REPO,
              port: int | None = None) -> AppServer:
    """Launch ``streamlit run app.py`` on a free loopback port with ``SNDIAG_STORE=store``.

    Parameters
    ----------
    store : path
        The dataset store of this server.
    log_path : path
        Where its stdout and stderr go.
    env : Mapping, optional
        Extra environment (e.g. ``SNDIAG_PASSWORD``); the caller's ``SNDIAG_DATA_ROOT`` and
        access-control variables (password, identity provider, allow-list) are not inherited.
    app_dir : path
        The folder holding ``app.py``.
    port : int, optional
        The port (default: a free one); e.g. when an identity provider needs the redirect
        address before the server starts.

    Returns
    -------
    AppServer
        Not ready yet: call :meth:`AppServer.wait_ready`.
    """
    port = port or free_port()
    child_env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    child_env.update({"SNDIAG_STORE": str(store), "PYTHONUNBUFFERED": "1"})
    child_env.update(env or {})
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    log_path = Path(log_path)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=app_dir, env=child_env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return AppServer(proc, f"http://127.0.0.1:{port}", log_path)


@contextlib.contextmanager
def running_app(store: str | os.PathLike[str], log_path: str | os.PathLike[str], *,
                env: Mapping[str, str] | None = None, timeout: float = 90.0,
                port: int | None = None) -> Iterator[AppServer]:
    """:func:`start_app`, wait until healthy, yield the server, stop it however the block ends."""
    server = start_app(store, log_path, env=env, port=port)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()
