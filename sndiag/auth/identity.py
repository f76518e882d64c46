"""Who is signed in, and what the allow-list and the admin list let them do.

An :class:`Identity` comes either from an identity provider (OpenID Connect claims: a verified
e-mail address and a name) or from the shared password (a name the user typed, not verified).
:class:`AccessPolicy` decides who may enter (an optional allow-list of addresses and
``@domains``, checked against provider identities) and who may delete a dataset: with provider
identities, only the user who added it, or an admin; with the shared password or no access
control, anyone who can open the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sndiag.errors import AccessError

__all__ = ["PASSWORD_PROVIDER", "AccessPolicy", "Identity", "parse_names"]

#: The ``provider`` of an identity that signed in with the shared password.
PASSWORD_PROVIDER = "password"


def parse_names(value: object) -> tuple[str, ...]:
    """A list of addresses or domains from a string (commas or spaces) or a list, lower-cased.

    Examples
    --------
    >>> parse_names("Ann@Lab.org, @lab.org  bob@x.io")
    ('ann@lab.org', '@lab.org', 'bob@x.io')
    >>> parse_names(["a@b.c", "a@b.c"])
    ('a@b.c',)
    """
    if value is None:
        return ()
    items: Iterable[object] = (str(value).replace(",", " ").split() if isinstance(value, str)
                               else value)  # type: ignore[assignment]
    return tuple(dict.fromkeys(str(i).strip().lower() for i in items if str(i).strip()))


@dataclass(frozen=True)
class Identity:
    """A signed-in user.

    Attributes
    ----------
    provider : str
        The identity provider's name in the configuration (``default``, ``google``, ...), or
        ``"password"`` for the shared password.
    email : str or None
        The provider's e-mail claim, lower-cased (None for the shared password).
    name : str or None
        The display name (the provider's ``name`` claim, or what the user typed).
    email_verified : bool or None
        The provider's ``email_verified`` claim, when it sends one.

    Examples
    --------
    >>> ann = Identity.from_claims({"is_logged_in": True, "provider": "default",
    ...                             "email": "Ann@Lab.org", "name": "Ann"})
    >>> ann.owner, ann.label, ann.verified
    ('ann@lab.org', 'Ann', True)
    >>> Identity(provider="password", name="Bob").owner
    'Bob (shared password)'
    >>> Identity.from_claims({"is_logged_in": False}) is None
    True
    """

    provider: str
    email: str | None = None
    name: str | None = None
    email_verified: bool | None = None

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> Identity | None:
        """The identity of a signed-in user's claims (``st.user``), or None when signed out."""
        if not claims.get("is_logged_in"):
            return None
        email = claims.get("email")
        name = claims.get("name") or claims.get("preferred_username")
        verified = claims.get("email_verified")
        return cls(provider=str(claims.get("provider") or "default"),
                   email=str(email).strip().lower() if email else None,
                   name=str(name).strip() if name else None,
                   email_verified=verified if isinstance(verified, bool) else None)

    @property
    def verified(self) -> bool:
        """Whether an identity provider vouches for this user (not the shared password)."""
        return self.provider != PASSWORD_PROVIDER and self.email is not None

    @property
    def label(self) -> str:
        """What the dashboard shows: the name, else the address."""
        return self.name or self.email or "signed in"

    @property
    def owner(self) -> str:
        """What the store records as the user who added a dataset."""
        if self.provider == PASSWORD_PROVIDER:
            return f"{self.name or 'someone'} (shared password)"
        return self.email or self.label


@dataclass(frozen=True)
class AccessPolicy:
    """Who may enter, and who may delete what.

    Parameters
    ----------
    allowed : tuple of str
        E-mail addresses (``ann@lab.org``) and domains (``@lab.org`` or ``lab.org``) whose
        provider identities may enter; empty: anyone the provider signs in.
    admins : tuple of str
        E-mail addresses that may delete any dataset (and always enter).

    Examples
    --------
    >>> policy = AccessPolicy(allowed=("@lab.org", "guest@x.io"), admins=("boss@lab.org",))
    >>> ann = Identity("default", email="ann@lab.org")
    >>> policy.admits(ann), policy.admits(Identity("default", email="eve@evil.org"))
    (True, False)
    >>> policy.may_delete(ann, "ann@lab.org"), policy.may_delete(ann, "bob@lab.org")
    (True, False)
    >>> policy.may_delete(Identity("default", email="boss@lab.org"), "bob@lab.org")
    True
    """

    allowed: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed", parse_names(self.allowed))
        object.__setattr__(self, "admins", parse_names(self.admins))

    def _listed(self, email: str, entries: tuple[str, ...]) -> bool:
        domain = email.rpartition("@")[2]
        return any(email == e or (e.lstrip("@") == domain and "@" not in e.lstrip("@"))
                   for e in entries)

    def admits(self, identity: Identity) -> bool:
        """Whether ``identity`` may enter. The shared password lets in whoever knows it; a
        provider identity needs an e-mail address the provider has not marked unverified, on
        the allow-list when there is one."""
        if identity.provider == PASSWORD_PROVIDER:
            return True
        if not self.allowed:
            return True
        if identity.email is None or identity.email_verified is False:
            return False
        return self._listed(identity.email, self.allowed) or self.is_admin(identity)

    def is_admin(self, identity: Identity | None) -> bool:
        """Whether ``identity`` is a provider identity on the admin list."""
        return (identity is not None and identity.verified and identity.email_verified is not False
                and identity.email in self.admins)

    def may_delete(self, identity: Identity | None, added_by: str | None) -> bool:
        """Whether ``identity`` may delete a dataset that ``added_by`` added.

        Without provider identities (no access control, or the shared password) everyone may;
        with them, the user who added it and the admins may.
        """
        if identity is None or not identity.verified:
            return True
        return self.is_admin(identity) or (added_by is not None and added_by == identity.owner)

    def check_delete(self, identity: Identity | None, added_by: str | None) -> None:
        """Raise :class:`~sndiag.errors.AccessError` unless :meth:`may_delete`."""
        if not self.may_delete(identity, added_by):
            raise AccessError(f"only {added_by or 'an admin'} or an admin (SNDIAG_ADMINS) may "
                              f"delete this dataset; you are signed in as {identity.owner}")
