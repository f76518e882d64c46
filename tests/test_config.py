import pytest

from sndiag.config import SpectrogramConfig
from sndiag.errors import ParameterError
from sndiag.settings import Settings


def test_config_default_is_3_seconds_of_60x130():
    cfg = SpectrogramConfig()
    assert cfg.shape == (60, 130)
    assert cfg.n_samples == 512 * 129
    assert cfg.duration == pytest.approx(2.995, abs=1e-3)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"sr": 0}, "sr=0"),
        ({"n_mels": -1}, "n_mels=-1"),
        ({"fmin": 5000, "fmax": 4000}, "fmin=5000"),
        ({"fmax": 20000, "sr": 8000}, "sr/2"),
        ({"scale": "log"}, "scale='log'"),
        ({"align": "end"}, "align='end'"),
        ({"power": 0}, "power=0"),
        ({"n_fft": 2047}, "must be even"),
        ({"n_mels": 2000, "n_fft": 512}, "n_mels=2000"),
    ],
)
def test_config_invalid_raises(params, match):
    with pytest.raises(ParameterError, match=match):
        SpectrogramConfig(**params)


def test_config_round_trip_and_unknown_key():
    cfg = SpectrogramConfig(sr=8000, hop_length=128, scale="db")
    assert SpectrogramConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ParameterError, match="unknown"):
        SpectrogramConfig.from_dict({"hop": 1})


def test_limits_from_env():
    lim = Settings.from_env({"SNDIAG_MAX_UPLOAD_MB": "5", "SNDIAG_MAX_CLIPS": "7"}).limits
    assert lim.max_upload_mb == 5 and lim.max_clips == 7
    with pytest.raises(ParameterError, match="SNDIAG_MAX_CLIPS"):
        Settings.from_env({"SNDIAG_MAX_CLIPS": "many"})
