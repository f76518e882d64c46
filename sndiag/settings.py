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
``SNDIAG_MAX_DATASET_MB``      largest dataset held in memory (MB)              2048
``SNDIAG_MAX_IMAGE_PIXELS``    most pixels (n_mels x n_frames) of one image     1048576
``SNDIAG_MAX_LABELS_MB``       largest labels CSV (MB)                          100
``SNDIAG_STORE``               the dataset store folder                         ./.sndiag/store
``SNDIAG_FEATURE_CACHE``       spectrogram cache folder                         <store>/features
``SNDIAG_DATA_ROOT``           folder whose sub-folders the dashboard may read  (none)
``SNDIAG_PASSWORD``            password of a shared instance                    (open)
``SNDIAG_OIDC_*``              sign-in with an identity provider (see below)    (off)
``SNDIAG_COOKIE_SECRET``       key that signs sign-in cookies                   (random)
``SNDIAG_ALLOWED_USERS``       who may enter: e-mail addresses and ``@domain``  (anyone)
``SNDIAG_ADMINS``              e-mail addresses that may delete any dataset     (none)
``SNDIAG_STATS_THREADS``       threads of one statistics kernel call            1
``SNDIAG_SCHEDULER``           where the Experiment page's fits run: ``local``,  (this server)
                               ``local:N`` or a Dask scheduler address
``SNDIAG_SHARED_DIR``          a folder every Dask worker sees at the same      (temp folder)
                               path, for the experiment's clips
``BROWSER_PATH``               Chromium for PNG export of figures               (searched)
=============================  ===============================================  ==============

Identity provider (OpenID Connect), all four or none: ``SNDIAG_OIDC_SERVER_METADATA_URL`` (the
provider's ``.well-known/openid-configuration``), ``SNDIAG_OIDC_CLIENT_ID``,
``SNDIAG_OIDC_CLIENT_SECRET`` and ``SNDIAG_OIDC_REDIRECT_URI`` (this server's
``.../oauth2callback``); ``SNDIAG_OIDC_PROVIDER`` names it on the sign-in page. Every secret
(``SNDIAG_PASSWORD``, ``SNDIAG_OIDC_CLIENT_SECRET``, ``SNDIAG_COOKIE_SECRET``) may instead be
given as a file: ``<NAME>_FILE=/run/secrets/...`` (Docker and Kubernetes secrets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sndiag.config import Limits
from sndiag.errors import ParameterError

__all__ = ["OidcSettings", "Settings", "prefer_passive_openmp", "resolve_limits"]

#: The variables of an identity provider, by the ``[auth]`` key of Streamlit's secrets they set.
OIDC_VARIABLES = {
    "server_metadata_url": "SNDIAG_OIDC_SERVER_METADATA_URL",
    "client_id": "SNDIAG_OIDC_CLIENT_ID",
    "client_secret": "SNDIAG_OIDC_CLIENT_SECRET",
    "redirect_uri": "SNDIAG_OIDC_REDIRECT_URI",
}


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


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """``$NAME``, else the content of the file ``$NAME_FILE`` (stripped), else None."""
    value = env.get(name) or ""
    if value:
        return value
    path = (env.get(f"{name}_FILE") or "").strip()
    if not path:
        return None
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{name}_FILE={path!r} cannot be read "
                             f"({getattr(exc, 'strerror', None) or exc})") from None
    if not value:
        raise ParameterError(f"{name}_FILE={path!r} is empty")
    return value


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma- or space-separated list, lower-cased, without duplicates."""
    raw = (env.get(name) or "").replace(",", " ").split()
    return tuple(dict.fromkeys(item.strip().lower() for item in raw if item.strip()))


def _oidc(env: Mapping[str, str]) -> OidcSettings | None:
    values = {key: (_secret(env, var) if key == "client_secret" else (env.get(var) or "").strip())
              for key, var in OIDC_VARIABLES.items()}
    if not any(values.values()):
        return None
    missing = [OIDC_VARIABLES[k] for k, v in values.items() if not v]
    if missing:
        raise ParameterError(f"an identity provider needs {', '.join(OIDC_VARIABLES.values())}; "
                             f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} unset")
    if not values["redirect_uri"].rstrip("/").endswith("/oauth2callback"):
        raise ParameterError(f"SNDIAG_OIDC_REDIRECT_URI={values['redirect_uri']!r} must be this "
                             "server's address followed by /oauth2callback")
    label = (env.get("SNDIAG_OIDC_PROVIDER") or "").strip() or "your identity provider"
    return OidcSettings(label=label, **values)  # type: ignore[arg-type]


def _limits(env: Mapping[str, str]) -> Limits:
    d = Limits()
    return Limits(
        max_upload_mb=_number(env, "SNDIAG_MAX_UPLOAD_MB", d.max_upload_mb),
        max_clips=int(_number(env, "SNDIAG_MAX_CLIPS", d.max_clips)),
        max_clip_seconds=_number(env, "SNDIAG_MAX_CLIP_SECONDS", d.max_clip_seconds),
        max_unzipped_mb=_number(env, "SNDIAG_MAX_UNZIPPED_MB", d.max_unzipped_mb),
        max_zip_ratio=_number(env, "SNDIAG_MAX_ZIP_RATIO", d.max_zip_ratio),
        max_zip_members=int(_number(env, "SNDIAG_MAX_ZIP_MEMBERS", d.max_zip_members)),
        max_dataset_mb=_number(env, "SNDIAG_MAX_DATASET_MB", d.max_dataset_mb),
        max_image_pixels=int(_number(env, "SNDIAG_MAX_IMAGE_PIXELS", d.max_image_pixels)),
        max_labels_mb=_number(env, "SNDIAG_MAX_LABELS_MB", d.max_labels_mb),
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


def _scheduler(env: Mapping[str, str]) -> str | None:
    """``SNDIAG_SCHEDULER`` as given (checked where it is used); None when unset or "none"."""
    raw = (env.get("SNDIAG_SCHEDULER") or "").strip()
    return None if raw.lower() in ("", "none") else raw


@dataclass(frozen=True)
class OidcSettings:
    """An identity provider given by environment variables (OpenID Connect).

    Attributes
    ----------
    server_metadata_url, client_id, client_secret, redirect_uri : str
        What Streamlit's ``[auth]`` secrets section calls the same.
    label : str
        The provider's name on the sign-in page ("Sign in with <label>").
    """

    server_metadata_url: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    label: str = "your identity provider"


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
    oidc : OidcSettings or None
        An identity provider (Streamlit's ``[auth]`` secrets are read by the dashboard).
    cookie_secret : str or None
        The key that signs sign-in cookies (else Streamlit's, random per process).
    allowed_users : tuple of str
        Who may enter once signed in: e-mail addresses and ``@domain`` (empty: anyone the
        provider signs in).
    admins : tuple of str
        E-mail addresses that may delete any dataset.
    stats_threads : int
        Threads one call of the statistics kernel may use.
    scheduler : str or None
        Where the dashboard's experiment fits run (``sndiag.distributed.parse_scheduler``
        text); None: on the server, in worker processes.
    shared_dir : Path or None
        A folder this machine and every Dask worker see at the same path, where an experiment
        on Dask writes its clips for the workers (``sndiag compare --shared-dir`` defaults to
        it); None: the temporary folder (a ``local`` cluster) or, for the CLI and a remote
        cluster, the dataset's own folder.
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
    password: str | None = field(default=None, repr=False)
    oidc: OidcSettings | None = None
    cookie_secret: str | None = field(default=None, repr=False)
    allowed_users: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    stats_threads: int = 1
    browser_path: str | None = None
    scheduler: str | None = None
    shared_dir: Path | None = None

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
                   password=_secret(env, "SNDIAG_PASSWORD"), oidc=_oidc(env),
                   cookie_secret=_secret(env, "SNDIAG_COOKIE_SECRET"),
                   allowed_users=_names(env, "SNDIAG_ALLOWED_USERS"),
                   admins=_names(env, "SNDIAG_ADMINS"), stats_threads=_threads(env),
                   browser_path=(env.get("BROWSER_PATH") or None),
                   scheduler=_scheduler(env), shared_dir=_path(env, "SNDIAG_SHARED_DIR"))


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
