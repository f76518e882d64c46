"""Bounded fuzzing (hypothesis) of the array loader, the zip reader and every scaler.

* ``load_arrays`` on random bytes and on random arrays (any dtype, 0-5 dimensions, random
  companions ``y``/``names``, .npy or .npz, stored or compressed) that are then truncated,
  flipped or padded: the only outcomes are a valid Dataset or a SndiagError.
* ``from_zip`` on archives with random member names (``..``, drive letters, backslashes, NUL,
  unicode, empty), contents (valid WAVs at odd rates, random bytes, nothing), declared sizes and
  link flags, sometimes corrupted: a valid Dataset whose clip names are safe, or a SndiagError.
* every scaler of :func:`sndiag.scalers.scaler_names` (and two compositions) on power-like data
  spanning 16 decades with exact zeros, and on dB-like data: finite in -> finite out (also on
  test data outside the training range), fitting on train only (nothing a test transform does
  changes a fitted attribute), inverse round trip where ``SCALERS[name].invertible``.

Example counts are modest so the hostile suite stays under 90 s; ``HYPOTHESIS_PROFILE=dev``
does not change them (``settings`` here win): raise ``FUZZ_EXAMPLES`` to fuzz longer.
"""

from __future__ import annotations

import copy
import io
import os
import stat
import struct
import zipfile
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sndiag.io as sio
from sndiag.config import Limits, SpectrogramConfig
from sndiag.dataset import Dataset
from sndiag.errors import DataError, SndiagError
from sndiag.scalers import SCALERS, make_scaler, scaler_names
from tests.hostile.conftest import wav

N = int(os.environ.get("FUZZ_EXAMPLES", "0")) or None


def fuzz(default: int) -> settings:
    return settings(max_examples=N or default, deadline=None, derandomize=N is None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _valid(ds: Dataset) -> None:
    assert isinstance(ds, Dataset)
    assert ds.X.dtype == np.float32 and ds.X.ndim == 3 and ds.n_clips >= 1
    assert np.isfinite(ds.X).all()
    for part in (ds.y, ds.groups, ds.names):
        assert part is None or part.shape == (ds.n_clips,)


# -- the array loader ----------------------------------------------------------------------------
PREFIXES = [b"", b"\x93NUMPY", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", b"\x93NUMPY\x03\x00",
            b"PK\x03\x04", b"PK\x05\x06", b"\x80\x04\x95"]


@fuzz(150)
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=2048),
       policy=st.sampled_from(["raise", "zero"]))
def test_load_arrays_random_bytes(prefix: bytes, body: bytes, policy: str) -> None:
    try:
        ds = sio.load_arrays(prefix + body, nan_policy=policy)  # type: ignore[arg-type]
    except SndiagError:
        return
    _valid(ds)


def _dtypes() -> st.SearchStrategy[np.dtype]:
    return st.one_of(hnp.scalar_dtypes(), hnp.unicode_string_dtypes(max_len=3),
                     hnp.byte_string_dtypes(max_len=3), st.just(np.dtype(object)),
                     st.sampled_from([np.dtype(np.float32)] * 4 + [np.dtype(np.float16),
                                                                   np.dtype(np.longdouble)]))


@st.composite
def _array(draw: st.DrawFn, *, image: tuple[int, int] | None = None) -> np.ndarray:
    dtype = draw(_dtypes())
    if image is not None and draw(st.booleans()):
        shape = draw(st.sampled_from([(draw(st.integers(0, 3)), *image),
                                      (draw(st.integers(1, 3)), *image, 1),
                                      (draw(st.integers(1, 3)), 1, *image)]))
    else:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4))
    if dtype == np.dtype(object):
        return draw(hnp.arrays(dtype, shape, elements=st.one_of(st.integers(), st.text(),
                                                                st.none())))
    return draw(hnp.arrays(dtype, shape))


def _mutate(data: bytes, how: str, at: float, junk: bytes) -> bytes:
    if not data or how == "none":
        return data
    pos = int(at * (len(data) - 1))
    if how == "truncate":
        return data[:pos]
    if how == "flip":
        return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:]
    return data + junk


@fuzz(150)
@given(data=st.data(), image=st.sampled_from([(3, 4), (60, 130), (1, 1)]),
       kind=st.sampled_from(["npy", "npz", "npz_compressed"]),
       how=st.sampled_from(["none", "none", "truncate", "flip", "append"]),
       at=st.floats(0, 1), junk=st.binary(max_size=64),
       expected=st.sampled_from(["image", "none", "default"]),
       policy=st.sampled_from(["raise", "zero"]))
def test_load_arrays_random_arrays(data: st.DataObject, image: tuple[int, int], kind: str,
                                   how: str, at: float, junk: bytes, expected: str,
                                   policy: str) -> None:
    X = data.draw(_array(image=image), label="X")
    buf = io.BytesIO()
    pickles = X.dtype == np.dtype(object)
    if kind == "npy":
        np.save(buf, X, allow_pickle=pickles)
    else:
        extra = data.draw(st.dictionaries(st.sampled_from(["y", "names", "groups", "meta", "w"]),
                                          _array(), max_size=3), label="extra")
        arrays = {"X": X, **extra}
        pickles = pickles or any(a.dtype == np.dtype(object) for a in extra.values())
        if pickles:  # np.savez refuses nothing, but writes object arrays only with pickles
            with zipfile.ZipFile(buf, "w") as zf:
                for key, a in arrays.items():
                    member = io.BytesIO()
                    np.save(member, a, allow_pickle=True)
                    zf.writestr(f"{key}.npy", member.getvalue())
        else:
            (np.savez_compressed if kind == "npz_compressed" else np.savez)(buf, **arrays)
    raw = _mutate(buf.getvalue(), how, at, junk)
    shape = {"image": image, "none": None, "default": (60, 130)}[expected]
    try:
        ds = sio.load_arrays(raw, nan_policy=policy,  # type: ignore[arg-type]
                                expected_shape=shape, limits=Limits())
    except SndiagError:
        return
    _valid(ds)
    if shape is not None and "meta" not in (kind != "npy" and extra or {}):
        assert ds.shape == shape
    if pickles:
        # a pickled array can only have been ignored (an unknown key), never loaded
        assert X.dtype != np.dtype(object)


# -- the zip reader ------------------------------------------------------------------------------
TINY = SpectrogramConfig(sr=8000, n_fft=256, hop_length=64, n_mels=16, n_frames=16)
PARTS = ["..", ".", "", "a", "b", "dog", "C:", "c:\\x", "__MACOSX", ".hidden", "ü", "x y",
         "\\", "..\\..", "/", "\x00", "a\x00b", "\u202e", "very" * 20]
EXTS = [".wav", ".WAV", ".flac", ".txt", ".zip", ".npz", "", ".wav/"]


@st.composite
def _member_name(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(PARTS), st.text(max_size=6)), min_size=1,
                          max_size=4))
    return "/".join(parts) + draw(st.sampled_from(EXTS))


@st.composite
def _content(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["wav", "wav", "bytes", "empty"]))
    if kind == "wav":
        rate = draw(st.sampled_from([1000, 8000, 44100, 384_000]))
        n = draw(st.integers(0, 400))
        channels = draw(st.integers(1, 3))
        y = np.random.default_rng(n).uniform(-1, 1, (n, channels)).astype(np.float32)
        subtype = draw(st.sampled_from(["PCM_16", "PCM_U8", "FLOAT"]))
        return wav(y, rate, subtype=subtype)
    if kind == "bytes":
        return draw(st.binary(max_size=512))
    return b""


def _patch_declared_size(data: bytes, index: int, size: int) -> bytes:
    raw = bytearray(data)
    positions = []
    pos = raw.find(b"PK\x01\x02")
    while pos != -1:
        positions.append(pos)
        pos = raw.find(b"PK\x01\x02", pos + 4)
    if positions:
        struct.pack_into("<I", raw, positions[index % len(positions)] + 24, size)
    return bytes(raw)


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # duplicates are wanted
@fuzz(120)
@given(members=st.lists(st.tuples(_member_name(), _content(), st.booleans()), min_size=0,
                        max_size=6),
       compression=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
       lie=st.one_of(st.none(), st.tuples(st.integers(0, 5), st.integers(0, 2**32 - 1))),
       how=st.sampled_from(["none", "none", "none", "truncate", "flip", "append"]),
       at=st.floats(0, 1), junk=st.binary(max_size=32))
def test_from_zip_random_archives(members: list[tuple[str, bytes, bool]], compression: int,
                                  lie: tuple[int, int] | None, how: str, at: float,
                                  junk: bytes) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, content, link in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if link:
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, content)
    raw = buf.getvalue()
    if lie is not None:
        raw = _patch_declared_size(raw, *lie)
    raw = _mutate(raw, how, at, junk)
    limits = Limits(max_zip_members=50, max_unzipped_mb=16)
    try:
        ds = sio.from_zip(raw, config=TINY, limits=limits, n_jobs=1, batch_size=4)
    except SndiagError:
        return
    _valid(ds)
    assert ds.shape == TINY.shape
    for name in [*ds.names.tolist(), *(s.name for s in ds.skipped)]:
        parts = name.split("/")
        assert not name.startswith("/") and ".." not in parts and "\x00" not in name, name
    assert ds.n_clips + len(ds.skipped) <= max(len(members), 1)


# -- every scaler --------------------------------------------------------------------------------
SCALER_NAMES = [*scaler_names(), "db+band", "log1p+standard"]


def _invertible(name: str) -> bool:
    return all(SCALERS[part].invertible for part in name.split("+"))


@st.composite
def _spectrograms(draw: st.DrawFn, *, n: tuple[int, int], image: tuple[int, int], kind: str,
                  dtype: Any, top: float) -> np.ndarray:
    shape = (draw(st.integers(*n)), *image)
    if kind == "power":  # 16 decades, exact zeros, the odd constant row
        exps = draw(hnp.arrays(np.float64, shape, elements=st.floats(-10, np.log10(top))))
        X = 10.0 ** exps
        zeros = draw(hnp.arrays(np.bool_, shape, elements=st.booleans()))
        X[zeros & (exps < -4)] = 0.0
    else:  # decibels, any float (see test_near_constant_pixel_gets_scale_one_and_a_flag)
        X = draw(hnp.arrays(np.float64, shape,
                            elements=st.floats(-120.0, 10.0 * np.log10(top))))
    if draw(st.booleans()):
        X[:, draw(st.integers(0, image[0] - 1))] = draw(st.sampled_from([0.0, 1e-3, 5.0]))
    return X.astype(dtype)


def _fitted(est: Any) -> dict[str, Any]:
    """Deep copy of the learned state: public attributes ending in ``_``, recursively."""
    out = {}
    for key, value in vars(est).items():
        if key.endswith("_") and not key.startswith("_"):
            out[key] = _fitted(value) if hasattr(value, "get_params") else copy.deepcopy(value)
    if hasattr(est, "steps"):  # a composition: the fitted steps
        out["steps"] = [_fitted(step) for _, step in est.steps]
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return a == b or (a != a and b != b)


@pytest.mark.parametrize("name", SCALER_NAMES)
@fuzz(20)
@given(data=st.data(), image=st.tuples(st.integers(1, 5), st.integers(1, 6)),
       kind=st.sampled_from(["power", "db"]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_scaler_properties(name: str, data: st.DataObject, image: tuple[int, int], kind: str,
                           dtype: Any) -> None:
    train = data.draw(_spectrograms(n=(2, 8), image=image, kind=kind, dtype=dtype, top=1e6),
                      label="train")
    test = data.draw(_spectrograms(n=(1, 6), image=image, kind=kind, dtype=dtype, top=1e7),
                     label="test")  # up to 10x beyond the training range
    scaler = make_scaler(name)
    try:
        scaler.fit(train)
        state = _fitted(scaler)
        Z_train = scaler.transform(train)
        Z = scaler.transform(test)
    except DataError as exc:  # compressors refuse dB (negative) input, with a message
        assert "negative" in str(exc).lower(), exc
        assert min(train.min(), test.min()) < 0, exc
        return
    assert state, f"{name}: no fitted attribute"

    # finite in -> finite out, on the training data and beyond its range
    assert np.isfinite(Z_train).all(), name
    assert Z.shape == test.shape and np.isfinite(Z).all(), name
    assert np.isfinite(scaler.gain_map(test)).all(), name

    # fitted on train only: nothing done with test data changes the fitted state
    scaler.transform(test * 3)
    scaler.gain_map(test)
    if _invertible(name):
        back = scaler.inverse_transform(Z)
    assert _same(_fitted(scaler), state), f"{name}: a transform changed the fitted state"
    np.testing.assert_array_equal(scaler.transform(train), Z_train)

    # inverse round trip, test data included
    if _invertible(name):
        assert np.isfinite(back).all()
        eps = float(np.finfo(dtype).eps)
        scale = float(max(np.abs(test).max(), np.abs(train).max(), 1.0))
        expected = test
        if "db" in name.split("+"):  # dB keeps 80 dB below each clip's maximum, down to amin
            floor = np.maximum(test.max(axis=(1, 2), keepdims=True) * 1e-8, 1e-10)
            expected = np.maximum(test, floor)
        np.testing.assert_allclose(back, expected, rtol=1e3 * eps,
                                   atol=1e-9 + 1e3 * eps * scale)


#: Training sets on which a fitted scale is (near) zero but not exactly: values at the float32
#: denormal edge, rounding noise of a large constant, and a tiny spread beside loud pixels.
NEAR_CONSTANT = {
    "float32_tiny": np.array([[[1.1754944e-38]], [[0.0]]], dtype=np.float32),
    "float32_tiny_pair": np.array([[[1.1754944e-38]], [[-1.1754944e-38]]], dtype=np.float32),
    "beside_loud": np.array([[[1e-37, 60.0]], [[0.0, -120.0]]], dtype=np.float32),
    "large_constant": np.full((7, 1, 2), 1e6 + 0.1),
}
AFFINE = ["standard", "std_floor", "band", "global", "minmax", "maxabs", "robust", "median"]


@pytest.mark.parametrize("case", list(NEAR_CONSTANT))
@pytest.mark.parametrize("name", AFFINE)
def test_near_constant_pixel_gets_scale_one_and_a_flag(name: str, case: str) -> None:
    """Found by test_scaler_properties with unquantized dB values (FUZZ_EXAMPLES=1500): a std of
    6e-39 gave a gain of 1.7e38, and float32 output of inf. Every fitted scaler now treats such
    a scale as zero (scale 1, flagged in ``zero_scale_``) and keeps its output finite."""
    train = NEAR_CONSTANT[case]
    scaler = make_scaler(name).fit(train)
    test = np.full((3, *train.shape[1:]), 2.0, dtype=train.dtype)
    test[1] = -120.0
    test[2] = 1e7
    assert np.isfinite(scaler.transform(test)).all()
    assert np.isfinite(scaler.gain_map()).all() and scaler.gain_map().max() <= 1e30
    flagged = np.broadcast_to(scaler.zero_scale_, scaler.image_shape_)
    np.testing.assert_array_equal(scaler.gain_map()[flagged], 1.0)
    # pooled (band, global), floored (std_floor), uncentred (maxabs of a large constant) or
    # unscaled (median) statistics are not near zero on these sets: nothing to flag there
    unflagged = {"band": {"beside_loud"}, "global": {"beside_loud"},
                 "std_floor": {"beside_loud"}, "maxabs": {"large_constant"},
                 "median": set(NEAR_CONSTANT)}
    expected = case not in unflagged.get(name, set())
    assert bool(flagged[0, 0]) == expected, f"{name}: zero_scale_ = {scaler.zero_scale_}"
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test,
                               rtol=1e-6, atol=1e-6)
