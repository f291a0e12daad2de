"""The API keeps its documented contract, long campaign: schemathesis over every operation of
/openapi.json, authenticated, on an in-process app (PostgreSQL):

    HEARTEYE_API_FUZZ_EXAMPLES=200 .venv/bin/python benchmarks/fuzz_api.py

Runs tests/reliability/test_api_fuzz.py with the larger budget (same checks: no 5xx,
responses conform to their schema and content type) and prints its counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    env = {
        **os.environ,
        "HEARTEYE_API_FUZZ_EXAMPLES": os.environ.get("HEARTEYE_API_FUZZ_EXAMPLES", "200"),
    }
    sys.exit(
        subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-s",
                "-p",
                "no:cacheprovider",
                "tests/reliability/test_api_fuzz.py",
            ],
            cwd=REPO,
            env=env,
        )
    )
