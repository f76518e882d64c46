"""Hostile audio clips through every entry point: the Python API, the dashboard's upload handler
and the CLI.

Each case is a single file. A usable one is accepted (and checked); an unusable one is skipped
with its reason when it comes with a good clip, and refused with one clear error when it is
alone. Every run happens in a :class:`Sandbox`: nothing may be written but the expected output,
and the working directory must not change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import sndiag.io as sio
from sndiag.config import Limits, SpectrogramConfig
from sndiag.dataset import Dataset
from sndiag.errors import DataError, SndiagError
from sndiag.io import uploads
from sndiag.settings import Settings
from tests.hostile.conftest import (
    CliJob,
    Sandbox,
    assert_one_line_error,
    assert_wrote_only,
    good_wav,
    run_cli_many,
    tone,
    wav,
    wav_header_then,
    wav_with_rate,
)

CFG = SpectrogramConfig()
LIMIT_ENV = {"SNDIAG_MAX_CLIP_SECONDS": "60"}
GOOD = "good.wav"


@functools.cache
def _reference(freq: float = 440.0) -> np.ndarray:
    """The spectrogram of a clean 440 Hz tone: accepted odd formats must look like it."""
    return sio.from_files([("ref.wav", wav(tone(0.5, 8000, freq=freq), 8000))],
                             labels="none").X[0]


def _peak_row(S: np.ndarray) -> int:
    return int(np.argmax(S.sum(axis=1)))


def _like_reference(ds: Dataset, i: int) -> None:
    assert _peak_row(ds.X[i]) == _peak_row(_reference())


def _truncated(ds: Dataset, i: int) -> None:
    """WAV has no checksum: the samples that are there are used (0.3125 of 0.5 s)."""
    assert ds.provenance["durations"]["seconds"][i] == pytest.approx(0.3125)
    _like_reference(ds, i)


def _padded(ds: Dataset, i: int) -> None:
    d = ds.provenance["durations"]
    assert d["n_padded"] >= 1 and d["min"] < 0.001


def _silent(ds: Dataset, i: int) -> None:
    assert not ds.X[i].any(), "digital silence gives an all-zero power spectrogram"


def _ten_minutes(ds: Dataset, i: int) -> None:
    d = ds.provenance["durations"]
    assert d["max"] == pytest.approx(600.0) and d["n_cropped"] >= 1
    _like_reference(ds, i)


def _six_channels_are_mixed_down(ds: Dataset, i: int) -> None:
    y = tone(0.5, 8000, channels=6, dtype=np.float32)
    mono = sio.from_files([("mono.wav", wav(y.mean(axis=1), 8000, subtype="FLOAT"))],
                             labels="none").X[0]
    np.testing.assert_allclose(ds.X[i], mono, rtol=1e-3, atol=1e-6 * float(mono.max()))


@dataclass(frozen=True)
class AudioCase:
    id: str
    name: str
    make: Callable[[], bytes]
    reason: str | None  # None: accepted; else a piece of the skip reason / error message
    env: Mapping[str, str] = field(default_factory=dict)
    check: Callable[[Dataset, int], None] | None = None

    @property
    def data(self) -> bytes:
        return _bytes(self.id)

    @property
    def limits(self) -> Limits:
        return Settings.from_env(self.env).limits


def _noise(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).bytes(n)


CASES = [
    AudioCase("truncated_wav", "truncated.wav", lambda: good_wav()[:-3000], None,
              check=_truncated),
    AudioCase("truncated_in_header", "cut_header.wav", lambda: good_wav()[:30],
              "not a recognised audio format"),
    AudioCase("truncated_flac", "truncated.flac",
              lambda: (lambda b: b[: len(b) // 2])(wav(tone(5.0, 16000), 16000, fmt="FLAC")),
              "truncated or corrupt"),
    AudioCase("header_no_samples", "no_samples.wav", lambda: wav_header_then(b""),
              "no samples"),
    AudioCase("pcm_header_garbage_data", "garbage_pcm.wav",
              lambda: wav_header_then(_noise(16000)), None),  # random PCM is (loud) noise
    AudioCase("float_header_garbage_data", "garbage_float.wav",
              lambda: wav_header_then(_noise(16000), subtype="FLOAT"), "NaN or infinite"),
    AudioCase("text_named_wav", "notes.wav", lambda: b"these are my notes, not audio\n" * 20,
              "not a recognised audio format"),
    AudioCase("zero_length", "empty.wav", lambda: b"", "file is empty (0 bytes)"),
    AudioCase("one_sample", "one_sample.wav", lambda: wav(np.array([0.5]), 8000), None,
              check=_padded),
    AudioCase("silence", "silence.wav", lambda: wav(np.zeros(16000), 16000), None,
              check=_silent),
    AudioCase("ten_minutes", "ten_minutes.wav",
              lambda: wav(tone(600.0, 8000, dtype=np.float32), 8000, subtype="PCM_U8"), None,
              check=_ten_minutes),
    AudioCase("ten_minutes_over_limit", "ten_minutes.wav",
              lambda: wav(tone(600.0, 8000, dtype=np.float32), 8000, subtype="PCM_U8"),
              "lasts 600.0 s, above the limit of 60 s", env=LIMIT_ENV),
    AudioCase("rate_1_hz", "rate_1hz.wav", lambda: wav_with_rate(1), "sample rate 1 Hz"),
    AudioCase("rate_384_khz", "rate_384k.wav", lambda: wav(tone(0.5, 384_000), 384_000), None,
              check=_like_reference),
    AudioCase("pcm_u8", "u8.wav", lambda: wav(tone(0.5, 8000), 8000, subtype="PCM_U8"), None,
              check=_like_reference),
    AudioCase("float32", "float32.wav",
              lambda: wav(tone(0.5, 8000, dtype=np.float32), 8000, subtype="FLOAT"), None,
              check=_like_reference),
    AudioCase("six_channels", "six_channels.wav",
              lambda: wav(tone(0.5, 8000, channels=6, dtype=np.float32), 8000, subtype="FLOAT"),
              None, check=_six_channels_are_mixed_down),
]
BY_ID = {c.id: c for c in CASES}
BAD = [c for c in CASES if c.reason is not None]
DEFAULT_ENV = [c for c in CASES if not c.env]


@functools.cache
def _bytes(case_id: str) -> bytes:
    return BY_ID[case_id].make()


def _ids(cases: list[AudioCase]) -> list[str]:
    return [c.id for c in cases]


def _expect_outcome(ds: Dataset, case: AudioCase, *, n_good: int) -> None:
    """``ds`` was built from ``case`` and ``n_good`` good clips: check what became of it."""
    assert np.isfinite(ds.X).all() and ds.X.dtype == np.float32
    assert ds.X.shape[1:] == CFG.shape
    names = [str(n).rsplit("/", 1)[-1] for n in ds.names]
    if case.reason is None:
        assert ds.n_clips == n_good + 1 and case.name in names, ds.skipped
        assert not ds.skipped, ds.skipped
        if case.check is not None:
            case.check(ds, names.index(case.name))
    else:
        assert ds.n_clips == n_good and case.name not in names
        assert [s.name.rsplit("/", 1)[-1] for s in ds.skipped] == [case.name]
        assert case.reason in ds.skipped[0].reason, ds.skipped[0].reason


def _expect_refusal(exc: SndiagError, case: AudioCase) -> None:
    text = str(exc)
    assert isinstance(exc, DataError)
    assert text.startswith("no clip could be used (1 skipped)"), text
    assert case.name in text and case.reason in text, text


# -- the Python API ----------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["path", "bytes"])
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_api_single_clip(case: AudioCase, source: str, sandbox: Sandbox,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Alone, a bad clip is refused with its name and reason; a usable one is accepted."""
    path = sandbox.write(case.name, case.data)
    with sandbox.inside(monkeypatch):
        def run() -> Dataset:
            if source == "path":
                return sio.load(path, limits=case.limits)
            return sio.load(case.data, name=case.name, limits=case.limits)

        if case.reason is None:
            ds = run()
            assert ds.n_clips == 1 and np.isfinite(ds.X).all()
            if case.check is not None:
                case.check(ds, 0)
        else:
            with pytest.raises(SndiagError) as info:
                run()
            _expect_refusal(info.value, case)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_api_folder_keeps_the_good_clip(case: AudioCase, sandbox: Sandbox,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a good clip beside it, a bad clip is skipped with its reason and the run goes on."""
    sandbox.write(GOOD, good_wav())
    sandbox.write(case.name, case.data)
    with sandbox.inside(monkeypatch):
        ds = sio.from_folder(sandbox.inputs, labels="none", limits=case.limits)
    _expect_outcome(ds, case, n_good=1)


# -- the dashboard's upload handler ------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_upload_handler(case: AudioCase, sandbox: Sandbox,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The Data page's handler: the same outcome, the uploads kept for listening, nothing on
    disk; alone, a bad upload raises the SndiagError the page shows with st.error."""
    kw = dict(config=CFG, labels=uploads.label_options("none"), limits=case.limits)
    with sandbox.inside(monkeypatch):
        ds, source = uploads.load_audio_uploads([(GOOD, good_wav()), (case.name, case.data)],
                                                **kw)
        _expect_outcome(ds, case, n_good=1)
        assert source.kind == "files" and set(source.files) == {GOOD, case.name}
        if case.reason is not None:
            with pytest.raises(SndiagError) as info:
                uploads.load_audio_uploads([(case.name, case.data)], **kw)
            _expect_refusal(info.value, case)


# -- the CLI -----------------------------------------------------------------------------------------
def _single(case: AudioCase) -> CliJob:
    def prepare(box: Sandbox) -> list[str]:
        return ["extract", str(box.write(case.name, case.data)), "-o", str(box.out / "x.npz")]

    return CliJob(f"single-{case.id}", prepare, env=case.env)


def _folder(key: str, cases: list[AudioCase], env: Mapping[str, str]) -> CliJob:
    def prepare(box: Sandbox) -> list[str]:
        box.write(GOOD, good_wav())
        for c in cases:
            box.write(c.name, c.data)
        return ["extract", str(box.inputs), "--no-labels", "-o", str(box.out / "x.npz")]

    return CliJob(key, prepare, env=env)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every CLI run of this module, made concurrently: each bad clip alone, and one folder of
    all clips (the CLI lists up to 20 skipped clips, so one run shows each case's fate)."""
    assert len(BAD) < 20
    jobs = [_single(c) for c in BAD]
    jobs.append(_folder("folder-default", DEFAULT_ENV, {}))
    jobs.append(_folder("folder-limit", [BY_ID["ten_minutes_over_limit"]], LIMIT_ENV))
    return run_cli_many(tmp_path_factory.mktemp("cli-audio"), jobs)


@pytest.mark.parametrize("case", BAD, ids=_ids(BAD))
def test_cli_single_bad_clip_is_one_line_error(case: AudioCase, cli_runs: dict) -> None:
    _, res = cli_runs[f"single-{case.id}"]
    assert_one_line_error(res, case.reason)
    assert case.name in res.stderr


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_cli_folder_lists_each_skipped_clip(case: AudioCase, cli_runs: dict) -> None:
    """In a folder with good clips, extract exits 0, writes only its output, and names each
    skipped clip with its reason on stderr."""
    key = "folder-limit" if case.env else "folder-default"
    box, res = cli_runs[key]
    assert_wrote_only(res, "out/x.npz")
    skipped = [ln for ln in res.stderr_lines if ln.startswith(f"skipped {case.name}: ")]
    if case.reason is None:
        assert not skipped, res.describe()
    else:
        assert len(skipped) == 1 and case.reason in skipped[0], res.describe()
    cases = [c for c in (DEFAULT_ENV if not case.env else [case])]
    n_ok = 1 + sum(c.reason is None for c in cases)
    with np.load(box.out / "x.npz", allow_pickle=False) as z:
        assert z["X"].shape == (n_ok, *CFG.shape) and np.isfinite(z["X"]).all()
    assert f"X ({n_ok}, 60, 130)" in res.stdout
    assert f"{len(cases) + 1 - n_ok} skipped" in res.stdout


def test_cli_rejects_a_bad_limit_in_the_environment(tmp_path: Path) -> None:
    runs = run_cli_many(tmp_path, [_folder("bad-env", [], {"SNDIAG_MAX_CLIP_SECONDS": "soon"})])
    assert_one_line_error(runs["bad-env"][1], "SNDIAG_MAX_CLIP_SECONDS='soon' must be a number")


# -- the harness itself ------------------------------------------------------------------------------
def test_the_sandbox_catches_stray_writes(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    """The checks above are not vacuous: a write to the working directory or the temporary
    folder is reported, and so is a CLI run that writes a relative path."""
    import tempfile

    with pytest.raises(AssertionError, match=r"cwd/stray\.txt"):
        with sandbox.inside(monkeypatch):
            Path("stray.txt").write_text("oops")
    with pytest.raises(AssertionError, match=r"tmp/"):
        with sandbox.inside(monkeypatch, allowed={"cwd/stray.txt"}):
            tempfile.NamedTemporaryFile(delete=False).close()

    def prepare(box: Sandbox) -> list[str]:
        return ["stats", str(box.write("d.npy", _npy_bytes(np.ones((2, 60, 130), np.float32)))),
                "--csv", "pixels.csv"]

    _, res = run_cli_many(tmp_path, [CliJob("relative", prepare)])["relative"]
    assert res.returncode == 0 and res.changed == {"cwd/pixels.csv"}, res.describe()


def _npy_bytes(X: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()
