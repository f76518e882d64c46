"""Deployment settings, read from the environment in one place.

The CLI and the dashboard read :meth:`Settings.from_env` (the dashboard once per script run, so
a changed variable applies without a restart); the Python API's functions read it only for what
they were not given (their ``limits``, say). No other module reads ``os.environ``, and only
:func:`prefer_passive_openmp` writes it.

=============================  ===============================================  ==============
variable                       meaning                                          default
=============================  ===============================================  ==============
``SNDIAG_MAX_UPLOAD_MB``       largest upload or archive (MB)                   500
``SNDIAG_MAX_CLIPS``           most clips in one dataset                        200000
``SNDIAG_MAX_CLIP_SECONDS``    longest clip (s)                                 600
``SNDIAG_MAX_UNZIPPED_MB``     largest total uncompressed size of a zip (MB)    2000
``SNDIAG_MAX_ZIP_RATIO``       largest compression ratio of a zip member        200
``SNDIAG_MAX_ZIP_MEMBERS``     most entries in one zip                          200000
``SNDIAG_STORE``               the dataset store folder                         ./.sndiag/store
``SNDIAG_FEATURE_CACHE``       spectrogram cache folder                         <store>/features
``SNDIAG_DATA_ROOT``           folder whose sub-folders the dashboard may read  (none)
``SNDIAG_PASSWORD``            password of a shared instance                    (open)
``SNDIAG_STATS_THREADS``       threads of one statistics kernel call            1
``BROWSER_PATH``               Chromium for PNG export of figures               (searched)
=============================  ===============================================  ==============
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sndiag.config import Limits
from sndiag.errors import ParameterError

__all__ = ["Settings", "prefer_passive_openmp", "resolve_limits"]


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ParameterError(f"environment variable {name}={raw!r} must be a number") from None
    if not value > 0 or value == float("inf"):
        raise ParameterError(f"environment variable {name}={raw!r} must be positive")
    return value


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = (env.get(name) or "").strip()
    return Path(raw).expanduser() if raw else None


def _limits(env: Mapping[str, str]) -> Limits:
    d = Limits()
    return Limits(
        max_upload_mb=_number(env, "SNDIAG_MAX_UPLOAD_MB", d.max_upload_mb),
        max_clips=int(_number(env, "SNDIAG_MAX_CLIPS", d.max_clips)),
        max_clip_seconds=_number(env, "SNDIAG_MAX_CLIP_SECONDS", d.max_clip_seconds),
        max_unzipped_mb=_number(env, "SNDIAG_MAX_UNZIPPED_MB", d.max_unzipped_mb),
        max_zip_ratio=_number(env, "SNDIAG_MAX_ZIP_RATIO", d.max_zip_ratio),
        max_zip_members=int(_number(env, "SNDIAG_MAX_ZIP_MEMBERS", d.max_zip_members)),
    )


def _threads(env: Mapping[str, str]) -> int:
    raw = (env.get("SNDIAG_STATS_THREADS") or "").strip()
    if not raw:
        return 1
    try:
        wanted = int(raw)
    except ValueError:
        wanted = 0
    if wanted <= 0:
        raise ParameterError(f"SNDIAG_STATS_THREADS={raw!r} must be a positive integer (or unset "
                             "for 1)")
    return wanted


@dataclass(frozen=True)
class Settings:
    """What a deployment configures (see the module docstring for the variables).

    Attributes
    ----------
    limits : Limits
        Input limits of every reader.
    store : Path
        The dataset store folder.
    feature_cache : Path
        Spectrograms cached by audio content.
    data_root : Path or None
        The folder whose sub-folders the dashboard offers ("Folder on the server"); only
        existing folders count.
    password : str or None
        The shared password (Streamlit's secret ``sndiag_password`` is read by the dashboard).
    stats_threads : int
        Threads one call of the statistics kernel may use.
    browser_path : str or None
        Chromium for PNG export, when set.

    Examples
    --------
    >>> s = Settings.from_env({"SNDIAG_MAX_CLIPS": "10", "SNDIAG_STORE": "/tmp/st"})
    >>> s.limits.max_clips, str(s.store), str(s.feature_cache)
    (10, '/tmp/st', '/tmp/st/features')
    >>> Settings.from_env({"SNDIAG_MAX_CLIPS": "many"})
    Traceback (most recent call last):
    ...
    sndiag.errors.ParameterError: environment variable SNDIAG_MAX_CLIPS='many' must be a number
    """

    limits: Limits = field(default_factory=Limits)
    store: Path = field(default_factory=lambda: Path.cwd() / ".sndiag" / "store")
    feature_cache: Path | None = None
    data_root: Path | None = None
    password: str | None = None
    stats_threads: int = 1
    browser_path: str | None = None

    def __post_init__(self) -> None:
        if self.feature_cache is None:
            object.__setattr__(self, "feature_cache", Path(self.store) / "features")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``env`` (default: the process environment).

        Raises
        ------
        ParameterError
            When a variable is malformed; the message names it.
        """
        env = os.environ if env is None else env
        store = _path(env, "SNDIAG_STORE") or Path.cwd() / ".sndiag" / "store"
        root = _path(env, "SNDIAG_DATA_ROOT")
        if root is not None:
            root = root.resolve()
            if not root.is_dir():
                root = None
        return cls(limits=_limits(env), store=store,
                   feature_cache=_path(env, "SNDIAG_FEATURE_CACHE"), data_root=root,
                   password=(env.get("SNDIAG_PASSWORD") or None), stats_threads=_threads(env),
                   browser_path=(env.get("BROWSER_PATH") or None))


def resolve_limits(limits: Limits | None) -> Limits:
    """``limits``, or the environment's (:meth:`Settings.from_env`) when None.

    Examples
    --------
    >>> resolve_limits(Limits(max_clips=3)).max_clips
    3
    """
    return limits if limits is not None else Settings.from_env().limits


def prefer_passive_openmp() -> bool:
    """Let OpenMP worker threads sleep instead of spinning while they wait (unless told otherwise).

    Sets ``OMP_WAIT_POLICY=PASSIVE`` when the variable is unset. An OpenMP runtime reads it once,
    when it loads, so this is called before PyTorch is first imported (the CNN of the experiment).
    On a machine whose cores other jobs share, spinning threads fight for them: an epoch of the
    CNN on two threads took 19-24 s spinning against 4 s passive (measured with other jobs
    running; on an idle machine the two are alike).

    Returns
    -------
    bool
        True when this call set the variable.
    """
    if os.environ.get("OMP_WAIT_POLICY"):
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
