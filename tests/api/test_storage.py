"""Storage backends (a local folder; S3 through boto3 against moto's S3 server) and the
orphan reconciliation."""

from __future__ import annotations

import time

import pytest

from hearteye.api.reconcile import reconcile_orphans
from hearteye.api.storage import (
    LocalStorage,
    NotFoundInStorage,
    S3Storage,
    StorageError,
    ecg_keys,
)


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(
        bucket["s3_bucket"],
        endpoint_url=bucket["s3_endpoint_url"],
        access_key_id="testing",
        secret_access_key="testing",
        prefix="hearteye",
    )


def test_round_trip_list_and_delete(storage):
    keys = ecg_keys("AbCdEfGh12345678")
    storage.put(keys.upload, b"\x00upload", "application/zip")
    storage.put(keys.plot, b"\x89PNG...", "image/png")
    assert storage.get(keys.upload) == b"\x00upload"
    ids = dict(storage.list_ecg_ids())
    assert set(ids) == {"AbCdEfGh12345678"}
    assert abs(ids["AbCdEfGh12345678"] - time.time()) < 120
    storage.delete_ecg("AbCdEfGh12345678")
    assert list(storage.list_ecg_ids()) == []
    with pytest.raises(NotFoundInStorage):
        storage.get(keys.upload)
    storage.delete_ecg("AbCdEfGh12345678")  # deleting what is gone is not an error
    storage.ping()


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "ecg/../../x/upload",
        "ecg/short/upload",
        "/abs/path",
        "ecg/AbCdEfGh12345678/../x",
    ],
)
def test_keys_outside_the_layout_are_refused(storage, key):
    with pytest.raises(ValueError):
        storage.put(key, b"x", "text/plain")


def test_unreachable_s3_is_a_storage_error():
    store = S3Storage(
        "bucket", endpoint_url="http://127.0.0.1:9", access_key_id="a", secret_access_key="b"
    )
    store.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(StorageError):
        store.ping()


def test_missing_bucket_is_a_storage_error(s3_bucket):
    store = S3Storage(
        "no-such-bucket",
        endpoint_url=s3_bucket["s3_endpoint_url"],
        access_key_id="testing",
        secret_access_key="testing",
    )
    with pytest.raises(StorageError):
        store.ping()


def test_reconcile_removes_old_orphans_only(app, storage):
    """Rows keep their files; orphans older than the grace period go; recent ones stay (an
    upload may be in progress in another worker)."""
    from hearteye.api.models import Ecg, User, utcnow

    from .api_helpers import register

    user = register(app.test_client())
    svc = app.extensions["hearteye"]
    with svc.sessions() as s:
        s.add(
            Ecg(
                file_id="KeptKeptKept1234",
                user_id=user["id"],
                team_id=s.get(User, user["id"]).team_id,
                patient_name="p",
                upload_date=utcnow(),
                source_name="x.zip",
                source_format="wfdb",
                upload_content_type="x",
                fs=500,
                n_leads=12,
                duration_s=10,
                classification="Normal",
                probability_abnormal=0.1,
                model="m",
                delineator="d",
                summary={},
            )
        )
        s.commit()
    for file_id in ("KeptKeptKept1234", "OrphanOrphan1234"):
        storage.put(ecg_keys(file_id).upload, b"x", "application/zip")
    report = reconcile_orphans(svc.sessions, storage, grace_s=3600)
    assert report["removed"] == [] and report["recent"] == ["OrphanOrphan1234"]
    report = reconcile_orphans(svc.sessions, storage, grace_s=3600, now=time.time() + 7200)
    assert report["removed"] == ["OrphanOrphan1234"]
    assert [i for i, _ in storage.list_ecg_ids()] == ["KeptKeptKept1234"]
