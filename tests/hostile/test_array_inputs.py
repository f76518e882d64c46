"""Hostile .npy/.npz files through the Python API, the dashboard's upload handler and the CLI.

Pickles, NaN/Inf, every wrong number of dimensions, wrong sizes, complex and string values,
empty archives, mismatched labels, an .npz bomb, a header that lies about its shape, a tampered
``meta``. Each is refused with a SndiagError naming the problem, or accepted and checked; no run
writes anything but its expected output.
"""

from __future__ import annotations

import functools
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import sndiag.io as sio
from sndiag.dataset import Dataset
from sndiag.errors import ArchiveError, DataError, ShapeError, SndiagError
from sndiag.io import uploads
from tests.hostile.conftest import (
    CliJob,
    Sandbox,
    assert_one_line_error,
    assert_wrote_only,
    measure_memory,
    npy,
    npy_lying_header,
    npz,
    run_cli_many,
    spectrograms,
)

X4 = spectrograms(4)
BOMB_CLIPS = 8000  # 8000 x 60 x 130 float32 zeros: 250 MB that deflate to 240 kB


def _with(value: float, at: tuple[int, int, int]) -> np.ndarray:
    X = X4.copy()
    X[at] = value
    return X


def _tampered_meta() -> bytes:
    meta = {"provenance": {"name": ["not", "a", "string"], "durations": "oops",
                           "nan_replaced": "many", "config": 5, "synthetic": "yes",
                           "kind": {"a": 1}, "note": "kept"},
            "skipped": [{"name": 3, "reason": None}, "junk"]}
    return npz(X=X4, y=np.array(["a", "b", "a", "b"]), meta=np.array(json.dumps(meta)))


def _tampered_meta_is_cleaned(ds: Dataset) -> None:
    prov = ds.provenance
    for key in ("durations", "nan_replaced", "synthetic"):
        assert key not in prov, key
    for key in ("kind", "name"):  # dropped; the upload handler sets its own
        assert prov.get(key) in (None, "arrays", "meta.npz"), prov
    assert prov["config"] is None and prov["note"] == "kept"
    assert ds.skipped[0].name == "3" and len(ds.skipped) == 1
    assert not ds.is_synthetic and isinstance(ds.name, str)


@dataclass(frozen=True)
class ArrayCase:
    id: str
    name: str
    make: Callable[[], bytes]
    error: type[SndiagError] | None  # None: accepted
    match: str = ""
    ui_accepts: bool = False  # the dashboard accepts any image size (expected_shape=None)
    check: Callable[[Dataset], None] | None = None

    @property
    def data(self) -> bytes:
        return _bytes(self.id)


CASES = [
    ArrayCase("object_dtype_pickle", "objects.npy",
              lambda: npy(np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True),
              DataError, "pickled Python objects"),
    ArrayCase("object_dtype_in_npz", "objects.npz",
              lambda: npz(allow_pickle=True, X=np.array([None] * 4, dtype=object)),
              DataError, "pickled Python objects"),
    ArrayCase("raw_pickle_named_npy", "pickle.npy", lambda: pickle.dumps(X4), DataError,
              "is a pickled Python object"),
    ArrayCase("nan", "nan.npy", lambda: npy(_with(np.nan, (1, 2, 3))), DataError,
              "1 NaN/Inf values (first at [(1, 2, 3)])"),
    ArrayCase("inf_in_npz", "inf.npz", lambda: npz(X=_with(-np.inf, (0, 5, 7))), DataError,
              "1 NaN/Inf values (first at [(0, 5, 7)])"),
    ArrayCase("float64_beyond_float32", "huge.npy", lambda: npy(X4.astype(np.float64) * 1e300),
              DataError, "beyond the float32 range"),
    ArrayCase("dims_0", "scalar.npy", lambda: npy(np.float32(1.0)), ShapeError,
              "X has shape ()"),
    ArrayCase("dims_1", "flat.npy", lambda: npy(X4[0].ravel()), ShapeError,
              "X has shape (7800,)"),
    ArrayCase("dims_2", "one_image.npy", lambda: npy(X4[0]), ShapeError,
              "X has shape (60, 130)"),
    ArrayCase("dims_4", "rgb.npy", lambda: npy(np.repeat(X4[..., None], 3, axis=3)), ShapeError,
              "X has shape (4, 60, 130, 3)"),
    ArrayCase("dims_4_channel_last", "channel_last.npy", lambda: npy(X4[..., None]), None,
              check=lambda ds: np.testing.assert_array_equal(ds.X, X4)),
    ArrayCase("dims_4_channel_first", "channel_first.npz", lambda: npz(X=X4[:, None]), None,
              check=lambda ds: np.testing.assert_array_equal(ds.X, X4)),
    ArrayCase("dims_5", "five.npy", lambda: npy(X4[:, None, ..., None]), ShapeError,
              "X has shape (4, 1, 60, 130, 1)"),
    ArrayCase("wrong_size", "short.npy", lambda: npy(X4[:, :, :129]), ShapeError,
              "X has shape (4, 60, 129)", ui_accepts=True),
    ArrayCase("transposed", "transposed.npy", lambda: npy(X4.transpose(0, 2, 1)), ShapeError,
              "it looks transposed", ui_accepts=True),
    ArrayCase("no_clips", "none.npy", lambda: npy(X4[:0]), DataError, "holds no clips"),
    ArrayCase("complex", "complex.npy", lambda: npy(X4.astype(np.complex64)), DataError,
              "complex dtype"),
    ArrayCase("strings", "strings.npy", lambda: npy(X4.astype(str)), DataError, "dtype <U"),
    ArrayCase("bytes_strings", "bytes.npy", lambda: npy(np.full((4, 60, 130), b"x")), DataError,
              "dtype |S1"),
    ArrayCase("bool", "mask.npy", lambda: npy(X4 > 1), DataError, "that is a mask"),
    ArrayCase("int16", "ints.npy", lambda: npy((X4 * 100).astype(np.int16)), None,
              check=lambda ds: np.testing.assert_array_equal(ds.X, (X4 * 100).astype(np.int16))),
    ArrayCase("empty_npz", "empty.npz", lambda: npz(), DataError, "empty .npz (no arrays)"),
    ArrayCase("npz_without_x", "no_x.npz", lambda: npz(a=X4, b=X4), DataError,
              "holds arrays ['a', 'b'] but no 'X'"),
    ArrayCase("y_shorter_than_x", "xy.npz", lambda: npz(X=X4, y=np.arange(3)), ShapeError,
              "y has 3 entries but X has 4 clips"),
    ArrayCase("names_longer_than_x", "names.npz",
              lambda: npz(X=X4, names=np.array(list("abcde"))), ShapeError,
              "names has 5 entries but X has 4 clips"),
    ArrayCase("y_object_pickle", "y_objects.npz",
              lambda: npz(allow_pickle=True, X=X4, y=np.array([{}] * 4, dtype=object)),
              DataError, "array 'y' contains pickled Python objects"),
    ArrayCase("truncated_npy", "cut.npy", lambda: npy(X4)[:5000], DataError,
              "not a valid .npy/.npz file"),
    ArrayCase("truncated_npz", "cut.npz", lambda: npz(X=X4)[:5000], DataError,
              "not a valid .npy/.npz file"),
    ArrayCase("lying_header", "liar.npy", lambda: npy_lying_header((30_000, 60, 130)),
              DataError, "not a valid .npy/.npz file"),
    ArrayCase("text_named_npy", "notes.npy", lambda: b"not numpy at all\n" * 10, DataError,
              "starts with neither the .npy header nor a zip header"),
    ArrayCase("npz_bomb", "bomb.npz",
              lambda: npz(compressed=True, X=np.zeros((BOMB_CLIPS, 60, 130), np.float32)),
              ArchiveError, "looks like a zip bomb"),
    ArrayCase("tampered_meta", "meta.npz", _tampered_meta, None, check=_tampered_meta_is_cleaned),
]
BY_ID = {c.id: c for c in CASES}


@functools.cache
def _bytes(case_id: str) -> bytes:
    return BY_ID[case_id].make()


def _ids(cases: list[ArrayCase]) -> list[str]:
    return [c.id for c in cases]


def _expect(case: ArrayCase, result: object, *, where: str, accepts: bool | None = None) -> None:
    accepted = case.error is None if accepts is None else accepts
    if accepted:
        assert isinstance(result, Dataset), result
        assert result.X.dtype == np.float32 and result.X.ndim == 3
        assert np.isfinite(result.X).all() and result.n_clips >= 1
        if case.check is not None:
            case.check(result)
        return
    assert isinstance(result, case.error), repr(result)
    text = str(result)
    assert case.match in text, text
    assert where in text, f"the message names the input ({where}): {text}"


# -- the Python API ----------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["path", "bytes"])
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_api(case: ArrayCase, source: str, sandbox: Sandbox,
             monkeypatch: pytest.MonkeyPatch) -> None:
    """load() on the file, load_arrays() on its bytes: refused with a SndiagError that names the
    input and the problem, or accepted; memory stays small whatever the header claims."""
    path = sandbox.write(case.name, case.data)
    with sandbox.inside(monkeypatch):
        if source == "path":
            result, traced, rss = measure_memory(lambda: sio.load(path))
        else:
            result, traced, rss = measure_memory(lambda: sio.load_arrays(case.data))
    _expect(case, result, where=case.name if source == "path" else "upload")
    if case.id == "npz_bomb":  # refused from the zip directory, before inflating anything
        assert traced < 16, f"{traced:.0f} MB allocated for a {len(case.data) >> 10} kB bomb"
    assert rss < 64, f"resident memory grew by {rss:.0f} MB"


# -- the dashboard's upload handler ------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_upload_handler(case: ArrayCase, sandbox: Sandbox,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The Data page's handler: the same outcome (any image size is fine there), the upload's
    name recorded, nothing written."""
    with sandbox.inside(monkeypatch):
        result, _, rss = measure_memory(lambda: uploads.load_array_upload(case.name, case.data))
    accepts = case.error is None or case.ui_accepts
    _expect(case, result, where=case.name, accepts=accepts)  # the user's file name
    if accepts:
        assert result.name == case.name or case.id == "tampered_meta"
    assert rss < 64


# -- the CLI -----------------------------------------------------------------------------------------
def _stats(case: ArrayCase) -> CliJob:
    def prepare(box: Sandbox) -> list[str]:
        return ["stats", str(box.write(case.name, case.data)), "--json"]

    return CliJob(case.id, prepare)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_cli_many(tmp_path_factory.mktemp("cli-arrays"), [_stats(c) for c in CASES])


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_cli_stats(case: ArrayCase, cli_runs: dict) -> None:
    """sndiag stats: one ``error:`` line naming the file, exit 2; or a JSON summary."""
    _, res = cli_runs[case.id]
    if case.error is not None:
        assert_one_line_error(res, case.match)
        assert case.name in res.stderr
    else:
        assert_wrote_only(res)
        assert json.loads(res.stdout)["n"] == X4.shape[0]


def test_cli_npz_bomb_is_refused_without_inflating_it(cli_runs: dict) -> None:
    """The bomb's run peaks no higher than a run that reads a real 4-clip file."""
    bomb = cli_runs["npz_bomb"][1]
    small = cli_runs["dims_4_channel_last"][1]
    expands_mb = BOMB_CLIPS * 60 * 130 * 4 / 2**20
    assert bomb.peak_rss_mb < small.peak_rss_mb + 50, (bomb.peak_rss_mb, small.peak_rss_mb,
                                                       expands_mb)


# -- limits the handler honours ----------------------------------------------------------------------
def test_npz_limits_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Raising SNDIAG_MAX_ZIP_RATIO, as the message says, lets a very compressible file in;
    files written by np.savez / Dataset.save (stored, not compressed) are never limited."""
    data = npz(compressed=True, X=np.zeros((300, 60, 130), np.float32))  # ~9 MB, ~1000:1
    with pytest.raises(ArchiveError, match="SNDIAG_MAX_ZIP_RATIO|zip bomb"):
        sio.load_arrays(data)
    monkeypatch.setenv("SNDIAG_MAX_ZIP_RATIO", "5000")
    assert sio.load_arrays(data).n_clips == 300
    monkeypatch.setenv("SNDIAG_MAX_ZIP_RATIO", "200")
    monkeypatch.setenv("SNDIAG_MAX_UNZIPPED_MB", "1")
    stored = sio.to_npz_bytes(Dataset(np.zeros((300, 60, 130), np.float32)))  # 9 MB, stored
    assert sio.load_arrays(stored).n_clips == 300
