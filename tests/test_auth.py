import pytest

from sndiag.auth import LoginThrottle, check_password, configured_password


@pytest.mark.parametrize(("given", "ok"), [("right", True), ("wrong", False), ("", False),
                                           ("right ", False), ("ríght", False)])
def test_check_password(given, ok):
    assert check_password(given, "right") is ok


def test_configured_password_env_then_secret():
    assert configured_password({"SNDIAG_PASSWORD": "x"}, {"sndiag_password": "y"}) == "x"
    assert configured_password({}, {"sndiag_password": "y"}) == "y"
    assert configured_password({"SNDIAG_PASSWORD": ""}, {}) is None


def test_login_throttle_doubles_and_caps():
    t = LoginThrottle()
    delays = []
    for _ in range(7):
        t.failed()
        delays.append(t.delay)
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0] and max(delays) == 8.0
    t.reset()
    assert t.delay == 0.0
