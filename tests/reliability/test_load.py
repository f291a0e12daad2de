"""Concurrent uploads are stored whole and once: 50 uploads from 8 concurrent clients to
gunicorn (2 workers) on PostgreSQL; nothing lost, duplicated or corrupted.
benchmarks/reliability_load.py runs the 1,000-upload version."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import reliability_load  # noqa: E402


@pytest.mark.slow
def test_concurrent_uploads_lose_nothing(live_server, tmp_path, database_url, record_property):
    if not database_url.startswith("postgresql"):
        pytest.skip("the load check is for PostgreSQL (SQLite serialises writers)")
    result = reliability_load.run(live_server, uploads=50, clients=8)
    result["verified"] = reliability_load.verify_storage(result, tmp_path / "served")
    record_property("load_sent", result["sent"])
    record_property("load_verified", result["verified"])
    assert result["errors"] == []
    assert result["accepted"] == result["stored"] == result["listed_unique"] == 50
    assert result["verified"] == 50 and result["duplicate_ids"] == 0
    assert result["orphans"] == 0
