"""Hostile inputs made by the tests themselves, and a sandbox that proves nothing leaks out.

Generators (plain functions, imported by the test modules)
    audio: :func:`wav` / :func:`tone` (any rate, subtype, channel count), corrupted variants;
    arrays: :func:`npy` / :func:`npz` (pickles, lying headers, bombs);
    zips: :func:`zip_of` (symlinks, raw-patched names and flags), :func:`zip_bomb` (streamed, so
    the bomb itself is never held in memory), :func:`patch_zip_name`, :func:`set_zip_flag`.

Harness
    :class:`Sandbox`: ``in/ out/ cwd/ tmp/ home/ store/`` under ``tmp_path``. A run happens with
    its working directory in ``cwd/``, ``TMPDIR`` in ``tmp/``, ``HOME`` in ``home/`` (CLI) and
    ``SNDIAG_STORE`` in ``store/``; :meth:`Sandbox.snapshot` before and after shows every file
    that appeared or changed, so a test can assert that only the expected output did.
    :func:`run_cli` runs ``python -m sndiag.cli`` in a subprocess inside a sandbox and measures
    the child's own peak RSS (``os.wait4``); :func:`run_cli_many` runs several at once (the CLI
    pays ~1.5 s of imports per run, and the whole hostile suite must stay under 90 s).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.support.markdown import shown  # noqa: F401 - re-exported for the hostile tests

REPO = Path(__file__).resolve().parents[2]
CLI_TIMEOUT = 120.0
#: Concurrent CLI subprocesses: enough to overlap their import time, few enough for 2 cores.
CLI_WORKERS = max(2, min(4, (os.cpu_count() or 2) + 1))


# -- audio --------------------------------------------------------------------------------------
def wav(y: np.ndarray, sr: int, *, subtype: str | None = None, fmt: str = "WAV") -> bytes:
    """``y`` ((n,) or (n, channels)) encoded in memory."""
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def tone(seconds: float, sr: int, *, freq: float = 440.0, channels: int = 1,
         amp: float = 0.3, dtype: Any = np.float64) -> np.ndarray:
    """A sine of ``seconds`` at ``sr``; with several channels each gets its own frequency."""
    t = np.arange(int(round(seconds * sr))) / sr
    cols = [amp * np.sin(2 * np.pi * freq * (1 + 0.5 * c) * t) for c in range(channels)]
    y = cols[0] if channels == 1 else np.stack(cols, axis=1)
    return y.astype(dtype)


def good_wav(freq: float = 440.0) -> bytes:
    """A clean half-second 8 kHz tone: the clip every mixed input also holds."""
    return wav(tone(0.5, 8000, freq=freq), 8000)


def wav_with_rate(rate: int, n: int = 200) -> bytes:
    """A PCM-16 WAV whose header states ``rate`` Hz (libsndfile refuses to write rate < 1)."""
    data = bytearray(wav(np.zeros(n), 8000, subtype="PCM_16"))
    struct.pack_into("<I", data, 24, rate)          # sample rate
    struct.pack_into("<I", data, 28, rate * 2)      # byte rate (mono, 16 bit)
    return bytes(data)


def wav_header_then(payload: bytes, *, subtype: str = "PCM_16", sr: int = 8000) -> bytes:
    """A valid WAV header (of the given subtype) whose data chunk holds ``payload``."""
    head = wav(np.zeros(1, dtype=np.float32), sr, subtype=subtype)
    data_at = head.rfind(b"data")
    head = bytearray(head[: data_at + 8])
    struct.pack_into("<I", head, data_at + 4, len(payload))
    struct.pack_into("<I", head, 4, len(head) - 8 + len(payload))
    return bytes(head) + payload


# -- arrays -------------------------------------------------------------------------------------
def npy(a: Any, *, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def npz(*, compressed: bool = False, allow_pickle: bool = False, **arrays: Any) -> bytes:
    buf = io.BytesIO()
    if allow_pickle:  # np.savez pickles object arrays only through np.save's allow_pickle
        with zipfile.ZipFile(buf, "w") as zf:
            for key, a in arrays.items():
                zf.writestr(f"{key}.npy", npy(a, allow_pickle=True))
        return buf.getvalue()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def npy_lying_header(shape: tuple[int, ...], *, payload: int = 1024, descr: str = "<f4") -> bytes:
    """A .npy whose header declares ``shape`` but which holds only ``payload`` bytes."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(payload)


def spectrograms(n: int, shape: tuple[int, int] = (60, 130), *, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 1.0, size=(n, *shape)).astype(np.float32)


# -- zips ---------------------------------------------------------------------------------------
Entry = tuple[str | zipfile.ZipInfo, bytes]


def zip_of(entries: Iterable[Entry], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries:
            if isinstance(name, str):  # a ZipInfo: writestr(str) fails on a name it empties
                name = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                name.compress_type = compression
            zf.writestr(name, data)
    return buf.getvalue()


def symlink(name: str, target: str) -> Entry:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix: external_attr holds st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def zip_bomb(*, expands_mb: int = 300, extra: Sequence[Entry] = ()) -> bytes:
    """A zip whose one member inflates to ``expands_mb`` MB of zeros (about 1000:1).

    Written in 1 MB chunks, so building it never holds the expanded member in memory either.
    """
    chunk = bytes(1024 * 1024)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in extra:
            zf.writestr(name, data)
        info = zipfile.ZipInfo("data/bomb.wav")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            for _ in range(expands_mb):
                fh.write(chunk)
    return buf.getvalue()


def patch_zip_name(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace a member name in the local and central headers (same length), as raw bytes, so
    names that no Python API would write (invalid UTF-8, legacy code pages) can be made."""
    assert len(old) == len(new)
    assert data.count(old) == 2, "the name must occur once in each header"
    return data.replace(old, new)


def set_zip_flag(data: bytes, name: bytes, bit: int) -> bytes:
    """Set general-purpose flag ``bit`` of member ``name`` in both of its headers."""
    raw = bytearray(data)
    # (signature, offset of the flags, of the name length, of the name) in each header
    for sig, flag_at, len_at, name_at in ((b"PK\x03\x04", 6, 26, 30),
                                          (b"PK\x01\x02", 8, 28, 46)):
        pos = raw.find(sig)
        while pos != -1:
            n_len = struct.unpack_from("<H", raw, pos + len_at)[0]
            if raw[pos + name_at: pos + name_at + n_len] == name:
                flags = struct.unpack_from("<H", raw, pos + flag_at)[0]
                struct.pack_into("<H", raw, pos + flag_at, flags | bit)
            pos = raw.find(sig, pos + 4)
    return bytes(raw)


# -- memory -------------------------------------------------------------------------------------
def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status")


def measure_memory(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return (its result or exception, tracemalloc peak MB, peak RSS growth MB).

    tracemalloc counts every Python and numpy allocation, even one never touched; the RSS
    growth (the kernel's high-water mark, reset first through ``/proc/self/clear_refs``) counts
    the memory really used. Without /proc, the RSS growth is NaN.
    """
    import tracemalloc

    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        base = _vm_hwm_mb()
    except OSError:
        base = float("nan")
    tracemalloc.start()
    try:
        try:
            result: Any = fn()
        except Exception as exc:  # noqa: BLE001 - returned for the caller to check
            result = exc
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    growth = _vm_hwm_mb() - base if base == base else float("nan")
    return result, peak, growth


# -- the sandbox --------------------------------------------------------------------------------
Snapshot = dict[str, tuple[int, int]]


@dataclass
class Sandbox:
    """A folder tree in which one run happens; see the module docstring."""

    root: Path

    def __post_init__(self) -> None:
        for sub in ("in", "out", "cwd", "tmp", "home", "store"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def inputs(self) -> Path:
        return self.root / "in"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def store(self) -> Path:
        return self.root / "store"

    def write(self, rel: str | os.PathLike[str], data: bytes) -> Path:
        path = self.root / "in" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def snapshot(self) -> Snapshot:
        """Every file and folder under the sandbox: relative path -> (size, mtime_ns)."""
        out: Snapshot = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                st_ = p.lstat()
                out[p.relative_to(self.root).as_posix()] = (
                    -1 if stat.S_ISDIR(st_.st_mode) else st_.st_size, st_.st_mtime_ns)
        return out

    @staticmethod
    def changes(before: Snapshot, after: Snapshot) -> set[str]:
        """Paths that appeared, disappeared or changed (folders: only appeared/disappeared)."""
        changed = {p for p in before.keys() ^ after.keys()}
        changed |= {p for p in before.keys() & after.keys()
                    if before[p][0] != -1 and before[p] != after[p]}
        return changed

    @contextlib.contextmanager
    def inside(self, monkeypatch: pytest.MonkeyPatch, *, allowed: Iterable[str] = ()
               ) -> Iterator[None]:
        """Run the block in the sandbox (cwd, temp folder, store); afterwards, assert that the
        process's cwd is unchanged and only ``allowed`` paths (relative to the sandbox root)
        appeared or changed."""
        before = self.snapshot()
        cwd = Path.cwd()
        with monkeypatch.context() as mp:
            mp.chdir(self.cwd)
            mp.setenv("TMPDIR", str(self.tmp))
            mp.setenv("SNDIAG_STORE", str(self.store))
            mp.setattr(tempfile, "tempdir", str(self.tmp))
            yield
            assert Path.cwd() == self.cwd, f"the run changed the working directory to {Path.cwd()}"
        assert Path.cwd() == cwd
        unexpected = self.changes(before, self.snapshot()) - set(allowed)
        assert not unexpected, f"written outside the expected output: {sorted(unexpected)}"


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path / "sandbox")


# -- the CLI ------------------------------------------------------------------------------------
@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float
    changed: set[str] = field(default_factory=set)  # sandbox paths written by the run

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.strip().splitlines()

    def describe(self) -> str:
        return (f"$ sndiag {' '.join(self.args)}\nexit {self.returncode} after {self.seconds:.1f} s"
                f"\n--- stdout\n{self.stdout[-2000:]}\n--- stderr\n{self.stderr[-3000:]}")


def _cli_env(box: Sandbox, env: Mapping[str, str] | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SNDIAG_", "HYPOTHESIS"))}
    base.update({"HOME": str(box.home), "TMPDIR": str(box.tmp), "SNDIAG_STORE": str(box.store),
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                              os.environ.get("PYTHONPATH")])),
                 "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"})
    base.update(env or {})
    return base


def run_cli(box: Sandbox, *args: str | os.PathLike[str], env: Mapping[str, str] | None = None,
            timeout: float = CLI_TIMEOUT) -> CliResult:
    """``python -m sndiag.cli *args`` with cwd ``box.cwd``; the child's own peak RSS is read
    from ``os.wait4`` (RUSAGE_CHILDREN would mix all children of the test process)."""
    argv = [str(a) for a in args]
    before = box.snapshot()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sndiag.cli", *argv], cwd=box.cwd,
                            env=_cli_env(box, env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        out[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(n, s), daemon=True)
               for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for r in readers:
        r.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join(10)
    result = CliResult(argv, proc.returncode, out.get("stdout", b"").decode(errors="replace"),
                       out.get("stderr", b"").decode(errors="replace"),
                       time.perf_counter() - t0, usage.ru_maxrss / 1024)
    result.changed = Sandbox.changes(before, box.snapshot())
    return result


@dataclass
class CliJob:
    """One CLI run to make in its own sandbox: ``prepare`` writes the inputs and returns the
    arguments (paths may point into the sandbox)."""

    key: str
    prepare: Callable[[Sandbox], Sequence[str | os.PathLike[str]]]
    env: Mapping[str, str] = field(default_factory=dict)


def run_cli_many(root: Path, jobs: Sequence[CliJob]) -> dict[str, tuple[Sandbox, CliResult]]:
    """Prepare every job, then run them concurrently (``CLI_WORKERS`` at a time)."""
    prepared = []
    for job in jobs:
        box = Sandbox(root / job.key)
        prepared.append((job, box, list(job.prepare(box))))
    with ThreadPoolExecutor(max_workers=CLI_WORKERS) as pool:
        futures = {job.key: (box, pool.submit(run_cli, box, *args, env=job.env))
                   for job, box, args in prepared}
        return {key: (box, fut.result()) for key, (box, fut) in futures.items()}


def assert_one_line_error(res: CliResult, match: str) -> None:
    """Exit != 0, exactly one stderr line starting ``error:`` containing ``match``, no traceback,
    nothing on stdout, and no output file written."""
    assert res.returncode != 0, res.describe()
    assert res.returncode == 2, f"a deliberate error exits with 2\n{res.describe()}"
    assert "Traceback" not in res.stderr, res.describe()
    assert len(res.stderr_lines) == 1, res.describe()
    assert res.stderr_lines[0].startswith("error: "), res.describe()
    assert "unexpected" not in res.stderr_lines[0], res.describe()
    assert match in res.stderr_lines[0], f"{match!r} not in the message\n{res.describe()}"
    assert not res.stdout.strip(), res.describe()
    assert not res.changed, f"a failed run wrote {sorted(res.changed)}\n{res.describe()}"


def assert_wrote_only(res: CliResult, *outputs: str) -> None:
    """Exit 0 and the only sandbox paths written are ``outputs`` (relative to the sandbox)."""
    assert res.returncode == 0, res.describe()
    assert "Traceback" not in res.stderr, res.describe()
    assert res.changed == set(outputs), f"wrote {sorted(res.changed)}\n{res.describe()}"
