"""What a deployment's access control is: open, the shared password, or an identity provider.

:meth:`AccessConfig.resolve` reads it from the :class:`~sndiag.settings.Settings` and Streamlit's
secrets (``.streamlit/secrets.toml``, given here as a plain mapping): an ``[auth]`` section with a
client (Streamlit's OpenID Connect settings, or the ``SNDIAG_OIDC_*`` variables) means sign-in
with that provider; else ``SNDIAG_PASSWORD`` (or the secret ``sndiag_password``) means the
shared password; else the instance is open. With a provider, the password is not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sndiag.auth.identity import AccessPolicy, parse_names
from sndiag.auth.password import configured_password
from sndiag.settings import Settings

__all__ = ["AccessConfig", "Provider", "auth_secrets"]

_CLIENT_KEYS = ("client_id", "client_secret", "server_metadata_url")


@dataclass(frozen=True)
class Provider:
    """An identity provider of Streamlit's ``[auth]`` secrets: its name and its label."""

    name: str
    label: str


def auth_secrets(settings: Settings) -> dict[str, Any] | None:
    """The ``[auth]`` secrets section that the ``SNDIAG_OIDC_*`` and ``SNDIAG_COOKIE_SECRET``
    variables stand for (None when they are unset): what ``st.App(secrets=...)`` is given.

    Examples
    --------
    >>> s = Settings.from_env({"SNDIAG_COOKIE_SECRET": "k" * 32})
    >>> auth_secrets(s)
    {'auth': {'cookie_secret': 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk'}}
    >>> auth_secrets(Settings.from_env({})) is None
    True
    """
    section: dict[str, Any] = {}
    if settings.cookie_secret:
        section["cookie_secret"] = settings.cookie_secret
    if settings.oidc is not None:
        o = settings.oidc
        section.update(server_metadata_url=o.server_metadata_url, client_id=o.client_id,
                       client_secret=o.client_secret, redirect_uri=o.redirect_uri)
    return {"auth": section} if section else None


def _providers(auth: Mapping[str, Any], settings: Settings) -> tuple[Provider, ...]:
    found = []
    if any(key in auth for key in _CLIENT_KEYS):
        label = settings.oidc.label if settings.oidc is not None else "your identity provider"
        found.append(Provider("default", label))
    for name, section in auth.items():
        if isinstance(section, Mapping) and any(key in section for key in _CLIENT_KEYS):
            found.append(Provider(str(name), str(name).title()))
    return tuple(found)


@dataclass(frozen=True)
class AccessConfig:
    """The access control in force.

    Attributes
    ----------
    password : str or None
        The shared password (only used without a provider).
    providers : tuple of Provider
        The identity providers users may sign in with.
    policy : AccessPolicy
        Allow-list and admins.

    Examples
    --------
    >>> AccessConfig.resolve(Settings.from_env({})).mode
    'open'
    >>> AccessConfig.resolve(Settings.from_env({"SNDIAG_PASSWORD": "x"})).mode
    'password'
    >>> cfg = AccessConfig.resolve(Settings.from_env({"SNDIAG_PASSWORD": "x"}),
    ...     {"auth": {"redirect_uri": "http://h/oauth2callback", "cookie_secret": "s",
    ...               "google": {"client_id": "i", "client_secret": "c",
    ...                          "server_metadata_url": "https://accounts.google.com/..."}},
    ...      "sndiag_allowed_users": ["@lab.org"]})
    >>> cfg.mode, [p.label for p in cfg.providers], cfg.policy.allowed
    ('oidc', ['Google'], ('@lab.org',))
    """

    password: str | None = field(default=None, repr=False)
    providers: tuple[Provider, ...] = ()
    policy: AccessPolicy = field(default_factory=AccessPolicy)

    @property
    def mode(self) -> Literal["open", "password", "oidc"]:
        """``"oidc"`` with a provider, ``"password"`` with only a password, else ``"open"``."""
        if self.providers:
            return "oidc"
        return "password" if self.password else "open"

    @property
    def enabled(self) -> bool:
        """Whether anyone has to sign in."""
        return self.mode != "open"

    @classmethod
    def resolve(cls, settings: Settings, secrets: Mapping[str, Any] | None = None
                ) -> AccessConfig:
        """The access control of ``settings`` and Streamlit's ``secrets`` (the variables win)."""
        secrets = dict(secrets or {})
        env_auth = auth_secrets(settings)
        auth = dict((env_auth or {}).get("auth") or secrets.get("auth") or {})
        if env_auth and settings.oidc is None:  # only a cookie secret from the environment
            auth = {**dict(secrets.get("auth") or {}), **env_auth["auth"]}
        password = settings.password or configured_password({}, secrets)
        allowed = settings.allowed_users or parse_names(secrets.get("sndiag_allowed_users"))
        admins = settings.admins or parse_names(secrets.get("sndiag_admins"))
        return cls(password=password, providers=_providers(auth, settings),
                   policy=AccessPolicy(allowed=allowed, admins=admins))
