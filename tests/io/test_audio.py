import io
import wave

import librosa
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from sndiag.errors import DecodeError, LimitError, ParameterError
from sndiag.io.audio import decode, duration, resample


def tone(seconds: float, rate: int, *, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    y = 0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


def encode(y: np.ndarray, rate: int, *, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def raw_wav(*, rate: int, frames: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * frames)
    return buf.getvalue()


def peak_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y))
    return float(np.fft.rfftfreq(y.size, 1 / sr)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("fmt", "subtype", "rate", "channels"),
    [
        ("WAV", "PCM_16", 8000, 1),
        ("WAV", "FLOAT", 16000, 2),
        ("WAV", "PCM_24", 44100, 1),
        ("FLAC", "PCM_16", 44100, 2),
        ("AIFF", "PCM_16", 16000, 1),
        ("OGG", "VORBIS", 44100, 1),
        ("MP3", "MPEG_LAYER_III", 16000, 1),
    ],
)
def test_decode_formats_rates_channels(fmt, subtype, rate, channels):
    data = encode(tone(0.5, rate, channels=channels), rate, fmt=fmt, subtype=subtype)
    y = decode(data, sr=22050)
    assert y.dtype == np.float32 and y.ndim == 1 and y.flags.c_contiguous
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
    # MP3 adds encoder delay/padding; the others keep the length exactly (up to resampling).
    assert abs(y.size - 0.5 * 22050) <= (2000 if fmt == "MP3" else 1)
    assert peak_hz(y, 22050) == pytest.approx(440, abs=5)


def test_decode_path_equals_bytes(tmp_path):
    data = encode(tone(0.3, 16000), 16000, fmt="FLAC")
    (tmp_path / "a.flac").write_bytes(data)
    np.testing.assert_array_equal(decode(tmp_path / "a.flac", sr=8000), decode(data, sr=8000))


def test_decode_mixes_channels_by_mean():
    left = tone(0.2, 8000, freq=300)
    right = tone(0.2, 8000, freq=1000)
    y = decode(encode(np.stack([left, right], axis=1), 8000, subtype="FLOAT"), sr=8000)
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-6)


def test_decode_int16_is_scaled_to_unit_range():
    y = decode(encode(np.array([32767, -32768, 0], dtype=np.int16), 8000), sr=8000)
    np.testing.assert_allclose(y, [32767 / 32768, -1.0, 0.0])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "file is empty"),
        (b"just some text, not audio\n" * 10, "not a recognised audio format"),
        (bytes(range(256)) * 4, "not a recognised audio format"),
        (raw_wav(rate=8000, frames=0), "no samples"),
        (raw_wav(rate=1, frames=100), "sample rate 1 Hz"),
        (encode(tone(1.0, 8000), 8000, fmt="FLAC")[:60], "not a recognised|decoding failed"),
        (encode(np.full(100, np.nan, dtype=np.float32), 8000, subtype="FLOAT"), "NaN"),
    ],
)
def test_decode_rejects_bad_input(data, match):
    with pytest.raises(DecodeError, match=f"^clip.wav: .*({match})"):
        decode(data, sr=16000, name="clip.wav")


def test_decode_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes")
    with pytest.raises(DecodeError, match="notes.wav: not a recognised audio format"):
        decode(path, sr=16000)


@pytest.mark.parametrize(("name", "content", "match"), [
    ("empty.wav", b"", "file is empty"),
    ("missing.wav", None, "cannot be read"),
])
def test_decode_bad_paths(tmp_path, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DecodeError, match=match):
        decode(path, sr=16000)


def test_decode_checks_duration_from_header():
    data = encode(tone(2.0, 8000), 8000)
    with pytest.raises(LimitError, match=r"lasts 2.0 s, above the limit of 1 s"):
        decode(data, sr=8000, max_seconds=1.0)
    assert decode(data, sr=8000, max_seconds=2.0).size == 16000


@pytest.mark.parametrize(("kw", "match"), [
    ({"sr": 0}, "sr=0"),
    ({"sr": 8000.5}, "sr=8000.5"),
    ({"sr": 8000, "max_seconds": -1}, "max_seconds=-1"),
])
def test_decode_rejects_bad_parameters(kw, match):
    with pytest.raises(ParameterError, match=match):
        decode(encode(tone(0.1, 8000), 8000), **kw)


def test_duration_reads_header():
    assert duration(encode(tone(1.25, 16000), 16000, fmt="FLAC")) == 1.25
    with pytest.raises(DecodeError, match="x.wav: not a recognised"):
        duration(b"nope", name="x.wav")


@given(rate=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
       n=st.integers(min_value=1, max_value=4000))
def test_decode_resampled_length_property(rate, n):
    y = decode(encode(np.zeros(n, dtype=np.int16), rate), sr=16000)
    assert y.size == int(np.ceil(n * 16000 / rate))


@given(orig=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
       target=st.sampled_from([8000, 16000, 22050]), n=st.integers(min_value=1, max_value=5000),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_resample_equals_librosa_soxr_hq_property(orig, target, n, dtype):
    y = np.random.default_rng(n).standard_normal(n).astype(dtype)
    expected = librosa.resample(y, orig_sr=orig, target_sr=target, res_type="soxr_hq")
    actual = resample(y, orig_sr=orig, target_sr=target)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.fsdd
def test_decode_equals_librosa_load_on_fsdd(fsdd_dir):
    """Bit for bit: the benchmark's naive loop and sndiag see the same samples."""
    for path in sorted(fsdd_dir.glob("*.wav"))[::100]:
        expected, _ = librosa.load(path, sr=22050)
        np.testing.assert_array_equal(decode(path, sr=22050), expected)
