"""Shared test fixtures: where the real data lives, for a fresh clone and for CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
# The full staged data sets sit beside the checkout (CI lays them there too).
SHARED_DATA = Path(os.environ.get("HEARTEYE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"staged data not found at {SHARED_DATA} (set HEARTEYE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data_if_staged() -> Path | None:
    """The staged data sets, or None: for tests that run on the fixtures alone and take
    more real records when they are there."""
    return SHARED_DATA if SHARED_DATA.is_dir() else None


@pytest.fixture(scope="session")
def ludb_dir(shared_data: Path) -> Path:
    path = shared_data / "ludb" / "data"
    if not path.is_dir():
        pytest.skip(f"LUDB not found at {path}")
    return path


@pytest.fixture(scope="session")
def formats_dir(shared_data: Path) -> Path:
    """The staged real cart exports (GE MUSE, Philips, aECG, DICOM, SCP-ECG)."""
    path = shared_data / "formats"
    if not path.is_dir():
        pytest.skip(f"cart exports not staged at {path}")
    return path


def require_train(*modules: str) -> None:
    """Skip the calling test, saying why, when a package of the ``[train]`` extra is missing.

    Serving installs without it (no torch, no scikit-learn); the training and split tests then
    skip instead of erroring.
    """
    for name in modules:
        pytest.importorskip(
            name, reason=f"{name} is missing: install the [train] extra (pip install -e '.[train]')"
        )
