"""Access control without a server: passwords, identities, the allow-list, throttle, revocation."""

import pytest

from sndiag.auth import (
    AccessConfig,
    AccessPolicy,
    Identity,
    Revocations,
    SignInThrottle,
    check_password,
    configured_password,
)
from sndiag.errors import AccessError, ParameterError
from sndiag.settings import Settings


@pytest.mark.parametrize(("given", "ok"), [("right", True), ("wrong", False), ("", False),
                                           ("right ", False), ("ríght", False)])
def test_check_password(given, ok):
    assert check_password(given, "right") is ok


def test_configured_password_env_then_secret():
    assert configured_password({"SNDIAG_PASSWORD": "x"}, {"sndiag_password": "y"}) == "x"
    assert configured_password({}, {"sndiag_password": "y"}) == "y"
    assert configured_password({"SNDIAG_PASSWORD": ""}, {}) is None


def test_password_from_a_file(tmp_path):
    (tmp_path / "pw").write_text("from-file\n")
    assert Settings.from_env({"SNDIAG_PASSWORD_FILE": str(tmp_path / "pw")}).password == "from-file"
    with pytest.raises(ParameterError, match="SNDIAG_PASSWORD_FILE"):
        Settings.from_env({"SNDIAG_PASSWORD_FILE": str(tmp_path / "missing")})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_counts_per_address_and_waits_after_free_tries():
    clock = Clock()
    t = SignInThrottle(free=3, base=30, cap=120, clock=clock)
    waits = []
    for _ in range(6):
        t.failed("1.2.3.4")
        waits.append(t.wait("1.2.3.4"))
    assert waits == [0, 0, 30, 60, 120, 120]
    assert t.wait("5.6.7.8") == 0 and t.failures("5.6.7.8") == 0
    assert t.wait_text("1.2.3.4") == "try again in 2 min"
    clock.now += 121
    assert t.wait("1.2.3.4") == 0 and t.failures("1.2.3.4") == 6  # waited, not forgiven
    t.succeeded("1.2.3.4")
    assert t.failures("1.2.3.4") == 0


def test_throttle_forgets_old_addresses_and_stays_bounded():
    clock = Clock()
    t = SignInThrottle(free=1, base=10, forget_after=100, max_addresses=3, clock=clock)
    t.failed("a")
    clock.now += 101
    assert t.failures("a") == 0
    for address in "bcde":
        t.failed(address)
    assert t.failures("b") == 0 and t.failures("e") == 1  # the oldest went first


def test_revocations_expire_and_stay_bounded():
    clock = Clock()
    r = Revocations(max_entries=2, clock=clock)
    r.revoke("x", until=clock.now + 10)
    r.revoke("y", until=clock.now + 20)
    r.revoke("z", until=clock.now + 30)  # full: the soonest to expire goes
    assert [r.is_revoked(v) for v in "xyz"] == [False, True, True]
    clock.now += 25
    assert [r.is_revoked(v) for v in "yz"] == [False, True]


def test_identity_from_claims():
    ann = Identity.from_claims({"is_logged_in": True, "provider": "okta", "email": " Ann@Lab.ORG",
                                "name": "Ann", "email_verified": True})
    assert ann == Identity("okta", email="ann@lab.org", name="Ann", email_verified=True)
    assert ann.verified and ann.owner == "ann@lab.org"
    assert Identity.from_claims({}) is None
    pw = Identity.from_claims({"is_logged_in": True, "provider": "password", "name": "Bo"})
    assert not pw.verified and pw.owner == "Bo (shared password)"


@pytest.mark.parametrize(("email", "verified", "ok"), [
    ("ann@lab.org", None, True), ("ann@lab.org", False, False), ("ann@sub.lab.org", True, False),
    ("guest@x.io", True, True), ("other@x.io", True, False), ("boss@corp.com", True, True),
    (None, True, False)])
def test_allow_list(email, verified, ok):
    policy = AccessPolicy(allowed=("lab.org", "Guest@X.io"), admins=("boss@corp.com",))
    assert policy.admits(Identity("default", email=email, email_verified=verified)) is ok


def test_no_allow_list_admits_every_provider_identity_and_the_password():
    assert AccessPolicy().admits(Identity("default", email="anyone@anywhere.net"))
    assert AccessPolicy(allowed=("@lab.org",)).admits(Identity("password", name="x"))


def test_delete_rights():
    policy = AccessPolicy(admins=("boss@lab.org",))
    ann, bob = Identity("default", email="ann@lab.org"), Identity("default", email="bob@lab.org")
    boss = Identity("default", email="boss@lab.org")
    assert policy.may_delete(ann, "ann@lab.org") and not policy.may_delete(bob, "ann@lab.org")
    assert policy.may_delete(boss, "ann@lab.org") and policy.may_delete(boss, None)
    assert not policy.may_delete(ann, None)  # the sample, entries of unknown origin: admins
    assert policy.may_delete(None, "ann@lab.org")  # no access control: everyone
    assert policy.may_delete(Identity("password", name="x"), "ann@lab.org")
    with pytest.raises(AccessError, match="only ann@lab.org or an admin"):
        policy.check_delete(bob, "ann@lab.org")


def test_access_modes_from_settings_and_secrets():
    oidc_env = {"SNDIAG_OIDC_SERVER_METADATA_URL": "http://idp/.well-known/openid-configuration",
                "SNDIAG_OIDC_CLIENT_ID": "sndiag", "SNDIAG_OIDC_CLIENT_SECRET": "s3",
                "SNDIAG_OIDC_REDIRECT_URI": "http://localhost:8501/oauth2callback",
                "SNDIAG_OIDC_PROVIDER": "Keycloak", "SNDIAG_PASSWORD": "ignored",
                "SNDIAG_ALLOWED_USERS": "@lab.org", "SNDIAG_ADMINS": "boss@lab.org"}
    cfg = AccessConfig.resolve(Settings.from_env(oidc_env))
    assert cfg.mode == "oidc" and [(p.name, p.label) for p in cfg.providers] == [
        ("default", "Keycloak")]
    assert cfg.policy.allowed == ("@lab.org",) and cfg.policy.admins == ("boss@lab.org",)
    secrets = {"sndiag_password": "pw", "sndiag_admins": "a@b.c"}
    cfg = AccessConfig.resolve(Settings.from_env({}), secrets)
    assert cfg.mode == "password" and cfg.policy.admins == ("a@b.c",)


def test_a_partial_identity_provider_is_refused():
    with pytest.raises(ParameterError, match="SNDIAG_OIDC_CLIENT_SECRET, SNDIAG_OIDC_REDIRECT_URI are"):
        Settings.from_env({"SNDIAG_OIDC_SERVER_METADATA_URL": "http://idp/x",
                           "SNDIAG_OIDC_CLIENT_ID": "c"})
    with pytest.raises(ParameterError, match="/oauth2callback"):
        Settings.from_env({"SNDIAG_OIDC_SERVER_METADATA_URL": "http://idp/x",
                           "SNDIAG_OIDC_CLIENT_ID": "c", "SNDIAG_OIDC_CLIENT_SECRET": "s",
                           "SNDIAG_OIDC_REDIRECT_URI": "http://localhost:8501/"})
