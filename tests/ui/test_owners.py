"""Who did what, on the Data page: the store table says who added each dataset, when and from
what; with identities on, a user may delete only what they added, an admin anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from sndiag.dataset import Dataset
from sndiag.store import FileStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
OIDC = {"SNDIAG_OIDC_SERVER_METADATA_URL": "http://127.0.0.1:9/.well-known/openid-configuration",
        "SNDIAG_OIDC_CLIENT_ID": "sndiag", "SNDIAG_OIDC_CLIENT_SECRET": "s3cret",
        "SNDIAG_OIDC_REDIRECT_URI": "http://127.0.0.1:8501/oauth2callback",
        "SNDIAG_COOKIE_SECRET": "c" * 32, "SNDIAG_ADMINS": "boss@lab.org"}


def _user(email: str) -> dict:
    return {"is_logged_in": True, "provider": "default", "email": email,
            "name": email.split("@")[0].title()}


def _ds(seed: int, name: str) -> Dataset:
    X = np.random.default_rng(seed).gamma(1.0, size=(6, 60, 130)).astype(np.float32)
    return Dataset(X, y=np.array(["a", "b"] * 3), provenance={"name": name, "kind": "arrays"})


@pytest.fixture
def store(tmp_path, monkeypatch) -> FileStore:
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path))
    for key, value in OIDC.items():
        monkeypatch.setenv(key, value)
    s = FileStore(tmp_path)
    s.put(_ds(1, "ann's clips"), added_by="ann@lab.org", source="upload of ann.npz")
    s.put(_ds(2, "bob's clips"), added_by="bob@lab.org", source="server folder bob")
    return s


def _run_as(email: str, pick: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = _user(email)
    at.run()
    assert not at.exception
    if pick is not None:
        box = next(s for s in at.selectbox if s.label == "Dataset")
        store = FileStore(Path(__import__("os").environ["SNDIAG_STORE"]))
        box.set_value(next(e.dataset_id for e in store.entries() if e.name.startswith(pick)))
        at.run()
        assert not at.exception
    return at


def _table(at: AppTest) -> list[dict]:
    frame = next(df for df in at.dataframe if "added by" in df.value.columns)
    return frame.value.to_dict("records")


def _delete_popover(at: AppTest):
    return next(p.proto.popover for p in at.get("popover") if p.proto.popover.label == "Delete")


def test_store_table_shows_who_added_what_when_and_from_where(store):
    rows = {r["name"]: r for r in _table(_run_as("ann@lab.org"))}
    assert rows["ann's clips"]["added by"] == "ann@lab.org"
    assert rows["bob's clips"]["source"] == "server folder bob"
    assert rows["FSDD sample (300 spoken digits)"]["added by"] == "—"
    assert all(len(r["added"]) == 19 for r in rows.values())  # YYYY-MM-DD HH:MM:SS (UTC)


@pytest.mark.parametrize(("who", "pick", "may"), [
    ("ann@lab.org", "ann's", True), ("ann@lab.org", "bob's", False),
    ("boss@lab.org", "bob's", True), ("boss@lab.org", "FSDD", False)])
def test_delete_is_offered_to_the_owner_and_admins_only(store, who, pick, may):
    at = _run_as(who, pick)
    assert _delete_popover(at).disabled is (not may)


def test_owner_deletes_their_dataset(store):
    ann = next(e for e in store.entries() if e.added_by == "ann@lab.org")
    at = _run_as("ann@lab.org", "ann's")
    at.button(key="btn_delete").click().run()
    assert not at.exception and not at.error
    assert ann.dataset_id not in store
    assert [e.added_by for e in store.entries() if e.added_by] == ["bob@lab.org"]


def test_a_split_is_recorded_with_the_signed_in_user(store):
    ds = _ds(3, "grouped").replace(groups=np.array(["g1", "g1", "g2", "g2", "g3", "g3"]))
    entry = store.put(ds, added_by="ann@lab.org")
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = _user("bob@lab.org")
    at.query_params["ds"] = entry.dataset_id
    at.run()
    at.multiselect(key="w_holdout_groups").set_value(["g3"]).run()
    at.button(key="btn_split").click().run()
    assert not at.exception and not at.error
    (split,) = [e for e in store.entries() if "held out" in e.source]
    assert split.added_by == "bob@lab.org"
    assert split.source == f"split of {entry.dataset_id[:12]} (g3 held out)"
