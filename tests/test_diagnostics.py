"""Cause-named flags (padding, above Nyquist, silent, constant) and the grid that fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sndiag.config import SpectrogramConfig
from sndiag.diagnostics import (
    KINDS,
    Diagnostic,
    above_nyquist_rows,
    context_from_provenance,
    diagnose,
    diagnose_dataset,
    flagged_rows,
    silent_rows,
    suggest_config,
    suggest_from_provenance,
)
from sndiag.errors import ParameterError
from sndiag.masks import MaskSpec, auto_flags
from sndiag.stats import compute_stats

CFG = SpectrogramConfig()


def _padded(n: int = 60, *, length: int = 20, seed: int = 0) -> np.ndarray:
    """Power spectrograms whose clips fill ``length`` of 130 frames; rows 43-59 nearly empty."""
    rng = np.random.default_rng(seed)
    X = rng.gamma(1.0, 2.0, size=(n, 60, 130))
    X[:, 43:] *= 1e-8
    X[:, :, length:] = 0.0
    return X


def _provenance(seconds: list[float], rate: int | None = 8000) -> dict:
    durations = {"seconds": seconds}
    if rate is not None:
        durations["source_sr"] = {"min": rate, "max": rate, "counts": {str(rate): len(seconds)}}
    return {"config": CFG.to_dict(), "durations": durations}


def test_fsdd_like_data_names_padding_the_rows_above_nyquist_and_constant_pixels():
    X = _padded()
    diags = diagnose_dataset(compute_stats(X), _provenance([0.42] * 60))
    kinds = [d.kind for d in diags]
    assert kinds == ["padding", "above_nyquist", "silent", "constant"]
    by = {d.kind: d for d in diags}
    assert by["above_nyquist"].rows == tuple(range(43, 60))
    assert by["silent"].rows == tuple(range(43, 60))
    pad = by["padding"]
    # 0.42 s at 22.05 kHz, hop 512: ceil(9261 / 512) + 1 = 20 frames hold audio, 110 are padding
    assert pad.frames == tuple(range(20, 130))
    assert pad.fraction == pytest.approx(110 / 130)
    assert pad.details["clip_seconds"]["median"] == pytest.approx(0.42)
    assert pad.details["grid_seconds"] == pytest.approx(CFG.duration, abs=1e-4)
    assert "85% of the pixels are padding" in pad.reason
    assert by["constant"].details["in_padding"] == by["constant"].details["n_pixels"]


def test_every_diagnostic_is_json_ready_with_the_documented_keys():
    diags = diagnose_dataset(compute_stats(_padded()), _provenance([0.42] * 60))
    for d in diags:
        out = json.loads(json.dumps(d.to_dict()))
        assert set(out) == {"kind", "rows", "frames", "fraction", "reason", "details"}
        assert out["kind"] in KINDS and 0 <= out["fraction"] <= 1 and out["reason"]


def test_padding_is_read_from_zero_columns_without_durations():
    diags = diagnose(compute_stats(_padded(length=65)))
    pad = next(d for d in diags if d.kind == "padding")
    assert pad.details["source"] == "zero fractions"
    assert pad.frames == tuple(range(65, 130)) and pad.fraction == pytest.approx(0.5)


def test_clips_that_fill_the_grid_have_no_padding_flag():
    X = np.random.default_rng(0).gamma(2.0, 1.0, size=(30, 8, 20))
    assert [d.kind for d in diagnose(compute_stats(X))] == []


def test_no_source_rate_no_above_nyquist_flag():
    diags = diagnose_dataset(compute_stats(_padded()), _provenance([0.42] * 60, rate=None))
    assert "above_nyquist" not in [d.kind for d in diags]


@pytest.mark.parametrize(("source_sr", "first"), [(8000, 43), (16000, 56), (44100, None)])
def test_above_nyquist_rows_follow_the_source_rate(source_sr, first):
    rows = above_nyquist_rows(CFG, source_sr)
    assert (rows[0] if rows else None) == first
    assert rows == tuple(range(first, 60)) if first is not None else rows == ()


def test_above_nyquist_rows_refuse_a_bad_rate():
    with pytest.raises(ParameterError, match="positive sample rate"):
        above_nyquist_rows(CFG, 0)


def test_silent_rows_in_decibels_are_those_60_db_below_the_loudest():
    X = np.full((10, 4, 3), -20.0)
    X[:, 3] = -85.0
    X[:, 2] = -70.0
    X += np.random.default_rng(0).normal(scale=0.1, size=X.shape)
    assert silent_rows(compute_stats(X)) == (3,)


def test_auto_mask_flags_rows_above_nyquist_only_with_the_provenance():
    X = np.random.default_rng(1).gamma(2.0, 1.0, size=(40, 60, 10))
    X[:, 43:] *= 1e-3  # quiet, but not 60 dB down: only the source rate tells
    st = compute_stats(X)
    assert auto_flags(st).masked_rows == []
    prov = {"config": SpectrogramConfig(n_frames=10).to_dict(),
            "durations": {"seconds": [0.1] * 40, "source_sr": {"min": 8000, "max": 8000}}}
    m = auto_flags(st, provenance=prov)
    assert m.masked_rows == list(range(43, 60))
    assert "Nyquist" in m.reasons[0].rule
    assert MaskSpec(auto=True).build(st, provenance=prov).masked_rows == list(range(43, 60))


def test_flagged_rows_unites_the_kinds_the_mask_uses():
    diags = [Diagnostic("silent", "", 0.0, rows=(1, 2)), Diagnostic("constant", "", 0.0, rows=(7,)),
             Diagnostic("above_nyquist", "", 0.0, rows=(2, 3))]
    assert flagged_rows(diags) == (1, 2, 3)


def test_context_from_provenance_ignores_what_it_cannot_read():
    assert context_from_provenance(None) == {}
    assert context_from_provenance({"config": {"sr": -1}}) == {}
    ctx = context_from_provenance({"config": CFG.to_dict(), "durations": {"seconds": "x"}})
    assert set(ctx) == {"config"}


# -- the grid that fits ------------------------------------------------------------------------
def test_suggested_grid_covers_the_clips_and_stops_at_the_source_nyquist():
    seconds = list(np.random.default_rng(0).uniform(0.2, 0.6, size=200))
    s = suggest_config(CFG, seconds, 8000)
    assert s is not None
    new = s.config
    assert new.shape == CFG.shape and new.sr == 8000
    assert (new.fmax or new.sr / 2) <= 4000
    assert new.duration >= np.quantile(seconds, 0.9)       # 130 frames hold 90% of the clips
    assert new.n_fft >= 2 * new.hop_length
    assert s.padding_after < s.padding_before / 2
    assert above_nyquist_rows(new, 8000) == ()
    assert s.cli_options(CFG).startswith("--sr 8000 --hop ")
    assert "padding falls" in s.reason


def test_a_grid_that_fits_gets_no_suggestion():
    assert suggest_config(CFG, [2.9] * 50, 44100) is None
    assert suggest_config(CFG, [], 8000) is None
    assert suggest_from_provenance({"kind": "arrays"}) is None


def test_suggestion_refuses_a_bad_coverage():
    with pytest.raises(ParameterError, match="coverage"):
        suggest_config(CFG, [0.4], 8000, coverage=0.0)


@pytest.mark.slow
def test_fsdd_stats_json_lists_padding_and_rows_43_59(fsdd_dir: Path, tmp_path: Path):
    """On FSDD: `sndiag stats --json` names the cause, and re-extracting with the suggested grid
    removes most of the padding and every row above Nyquist."""
    from typer.testing import CliRunner

    from sndiag.cli import app

    runner = CliRunner()
    out = tmp_path / "fsdd.npz"
    res = runner.invoke(app, ["extract", str(fsdd_dir), "--label-regex",
                              r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "advice:" in res.output and "--sr 8000" in res.output
    res = runner.invoke(app, ["stats", str(out), "--json"])
    assert res.exit_code == 0, res.output
    diags = {d["kind"]: d for d in json.loads(res.output)["diagnostics"]}
    assert diags["above_nyquist"]["rows"] == list(range(43, 60))
    assert diags["padding"]["fraction"] > 0.8

    from sndiag.io import load_arrays
    from sndiag.io.clips import from_folder

    ds = load_arrays(out)
    grid = suggest_from_provenance(ds.provenance)
    new = from_folder(fsdd_dir, config=grid.config,
                      label_regex=r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav")
    after = {d.kind: d for d in diagnose_dataset(compute_stats(new.X, quantiles="none"),
                                                 new.provenance)}
    assert "above_nyquist" not in after and "silent" not in after
    assert after["padding"].fraction < diags["padding"]["fraction"] / 2
