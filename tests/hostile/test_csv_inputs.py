"""Hostile label manifests (CSV) through the Python API, the dashboard's handler and the CLI.

Rows for missing files, extra columns, paths that climb out of the folder, an undecodable clip,
fields above the csv module's limit, binary garbage, UTF-16, conflicting duplicates. A manifest
is only matched against the clips found, never used to open a path: rows that match nothing are
reported, not read.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pytest

import sndiag.io as sio
from sndiag.config import SpectrogramConfig
from sndiag.dataset import Dataset
from sndiag.errors import DataError, ParameterError, SndiagError
from sndiag.io import uploads
from tests.hostile.conftest import (
    CliJob,
    Sandbox,
    assert_one_line_error,
    assert_wrote_only,
    good_wav,
    measure_memory,
    run_cli_many,
)

CFG = SpectrogramConfig()
MISSING = "listed in {where} but no such audio file was found"
UNLISTED = "not listed in {where}"


@functools.cache
def _clips() -> dict[str, bytes]:
    return {"a.wav": good_wav(300.0), "b.wav": good_wav(900.0), "c.wav": good_wav(2000.0),
            "bad.wav": b"a text file named like audio\n"}


@dataclass(frozen=True)
class CsvCase:
    id: str
    csv: bytes
    error: type[SndiagError] | None = None
    match: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)  # clip -> label, when accepted
    skipped: Mapping[str, str] = field(default_factory=dict)  # name -> reason (with {where})
    groups: bool = False
    ui_match: str | None = None  # the dashboard's own message, when it differs


CASES = [
    CsvCase("missing_files_and_extra_columns",
            b'path,label,group,notes,duration\n'
            b'a.wav,low,ann,"quiet, then loud",1.0\n'
            b'b.wav,mid,bob,,\n'
            b'missing.wav,high,cid,deleted last week,\n'
            b'bad.wav,high,cid,,\n',
            labels={"a.wav": "low", "b.wav": "mid"}, groups=True,
            skipped={"missing.wav": MISSING, "c.wav": UNLISTED,
                     "bad.wav": "not a recognised audio format"}),
    CsvCase("rows_outside_the_folder",
            b"path,label\n../../../../etc/passwd,x\n/etc/shadow,y\nC:\\boot.ini,z\n"
            b"a.wav,low\nc.wav,high\n",
            labels={"a.wav": "low", "c.wav": "high"},
            skipped={"../../../../etc/passwd": MISSING, "etc/shadow": MISSING,
                     "C:/boot.ini": MISSING, "b.wav": UNLISTED, "bad.wav": UNLISTED}),
    CsvCase("bom_and_upper_case_header", "\ufeffPATH,Label\r\na.wav,caf\xe9\r\nc.wav,th\xe9\r\n"
            .encode("utf-8"), labels={"a.wav": "caf\xe9", "c.wav": "th\xe9"},
            skipped={"b.wav": UNLISTED, "bad.wav": UNLISTED}),
    CsvCase("latin1", b"file,label\na.wav,caf\xe9\nb.wav,th\xe9\nc.wav,caf\xe9\n",
            labels={"a.wav": "caf\xe9", "b.wav": "th\xe9", "c.wav": "caf\xe9"},
            skipped={"bad.wav": UNLISTED}),
    CsvCase("field_above_the_csv_limit", b"path,label\na.wav," + b"x" * 200_000 + b"\n",
            ParameterError, "is not a readable CSV: line 2 is longer than 65536 bytes"),
    CsvCase("unclosed_quote", b'path,label\na.wav,"' + b"y" * 140_000, ParameterError,
            "is not a readable CSV"),
    CsvCase("binary_garbage", bytes(range(256)) * 8, ParameterError,
            "it needs a header row 'path,label'"),
    CsvCase("utf16", "path,label\na.wav,low\n".encode("utf-16"), ParameterError,
            "it needs a header row 'path,label'"),
    CsvCase("empty", b"", ParameterError, "has columns []; it needs a header row",
            ui_match="upload the CSV manifest (header path,label[,group]) first"),
    CsvCase("no_row_matches", b"path,label\nzz.wav,low\n", DataError,
            "no clip could be used (5 skipped)"),
    CsvCase("conflicting_duplicates", b"path,label\na.wav,low\na.wav,high\n", DataError,
            "lists 'a.wav' twice with different labels ('low', 'high')"),
]
BY_ID = {c.id: c for c in CASES}


def _ids(cases: list[CsvCase]) -> list[str]:
    return [c.id for c in cases]


def _expect(case: CsvCase, result: object, *, where: str, match: str | None = None) -> None:
    if case.error is not None:
        assert isinstance(result, case.error), repr(result)
        assert (match or case.match) in str(result), str(result)
        if case.error is ParameterError and match is None:
            assert str(result).startswith(where), f"the message names the manifest: {result}"
        return
    assert isinstance(result, Dataset), repr(result)
    got = {str(n).rsplit("/", 1)[-1]: str(y) for n, y in zip(result.names, result.y, strict=True)}
    assert got == dict(case.labels)
    assert (result.groups is not None) == case.groups
    assert np.isfinite(result.X).all()
    reasons = {s.name.removeprefix("rec/"): s.reason for s in result.skipped}
    assert set(reasons) == set(case.skipped), reasons
    for name, reason in case.skipped.items():
        assert reason.format(where=where) in reasons[name], (name, reasons[name])


def _write_clips(box: Sandbox) -> None:
    for name, data in _clips().items():
        box.write(f"rec/{name}", data)


# -- the Python API ----------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["path", "bytes"])
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_api(case: CsvCase, source: str, sandbox: Sandbox,
             monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder with a manifest file, or uploads with the manifest's bytes."""
    _write_clips(sandbox)
    csv_path = sandbox.write("labels.csv", case.csv)
    with sandbox.inside(monkeypatch):
        if source == "path":
            result, _, _ = measure_memory(
                lambda: sio.from_folder(sandbox.inputs / "rec", labels_csv=csv_path))
        else:
            result, _, _ = measure_memory(lambda: sio.from_files(
                [(f"rec/{n}", b) for n, b in _clips().items()], labels_csv=case.csv))
    _expect(case, result, where="labels.csv" if source == "path" else "labels CSV")


# -- the dashboard's upload handler ------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_upload_handler(case: CsvCase, sandbox: Sandbox,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    with sandbox.inside(monkeypatch):
        result, _, _ = measure_memory(lambda: uploads.load_audio_uploads(
            [(f"rec/{n}", b) for n, b in _clips().items()], config=CFG,
            labels=uploads.label_options("csv", csv=case.csv)))
    _expect(case, result[0] if isinstance(result, tuple) else result, where="labels CSV",
            match=case.ui_match)


# -- the CLI -----------------------------------------------------------------------------------------
def _extract(case: CsvCase) -> CliJob:
    def prepare(box: Sandbox) -> list[str]:
        _write_clips(box)
        csv_path = box.write("labels.csv", case.csv)
        return ["extract", str(box.inputs / "rec"), "--labels-csv", str(csv_path),
                "-o", str(box.out / "x.npz")]

    return CliJob(case.id, prepare)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_cli_many(tmp_path_factory.mktemp("cli-csv"), [_extract(c) for c in CASES])


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_cli_extract(case: CsvCase, cli_runs: dict) -> None:
    box, res = cli_runs[case.id]
    if case.error is not None:
        assert_one_line_error(res, case.match)
        return
    assert_wrote_only(res, "out/x.npz")
    with np.load(box.out / "x.npz", allow_pickle=False) as z:
        got = dict(zip(z["names"].tolist(), z["y"].tolist(), strict=True))
    assert got == dict(case.labels)
    for name, reason in case.skipped.items():
        piece = reason.format(where="labels.csv")
        assert any(ln.startswith(f"skipped {name}: ") and piece in ln
                   for ln in res.stderr_lines), res.describe()
