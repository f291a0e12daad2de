"""Startup clean-up: stored ECG folders that no database row points at.

They are what a crash between storing the files and committing the row leaves behind, or a
delete whose file removal failed. A folder younger than ``grace_s`` may belong to an upload
still in progress in another worker, so it is kept until a later run.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from hearteye.api.models import Ecg
from hearteye.api.storage import Storage, StorageError

log = logging.getLogger("hearteye.api")


def reconcile_orphans(
    sessions: sessionmaker, storage: Storage, grace_s: float, now: float | None = None
) -> dict:
    """Delete orphan folders older than ``grace_s``; returns what was found and done."""
    now = time.time() if now is None else now
    stored = list(storage.list_ecg_ids())
    with sessions() as s:
        known = set(s.execute(select(Ecg.file_id)).scalars())
    removed, recent, failed = [], [], []
    for file_id, modified in stored:
        if file_id in known:
            continue
        if now - modified < grace_s:
            recent.append(file_id)
            continue
        try:
            storage.delete_ecg(file_id)
            removed.append(file_id)
        except (StorageError, ValueError) as exc:
            failed.append(file_id)
            log.warning("reconcile: could not remove orphan %s: %s", file_id, exc)
    if removed or failed:
        log.info(
            "reconcile: removed %d orphan upload(s), %d failed, %d recent kept",
            len(removed),
            len(failed),
            len(recent),
        )
    return {
        "stored": len(stored),
        "rows": len(known),
        "removed": removed,
        "recent": recent,
        "failed": failed,
    }
