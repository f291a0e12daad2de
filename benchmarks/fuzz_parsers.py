"""Long campaign of hypothesis on parse_upload with mutated real fixtures: only typed errors.

    HEARTEYE_FUZZ_EXAMPLES=5000 .venv/bin/python benchmarks/fuzz_parsers.py

Same property as tests/reliability/test_parser_fuzz.py (only `HeartEyeError`, each example
under 2 s), with a large budget and random seeds. Prints examples run and failures.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from hearteye.errors import HeartEyeError  # noqa: E402
from hearteye.io import parse_upload  # noqa: E402
from reliability.parser_fuzz import TARGETS, mutated  # noqa: E402


def make_check(seed: bytes, as_upload, count: dict, budget: int):
    """One hypothesis property per target (a closure: @given refuses default arguments)."""

    @settings(
        max_examples=budget, deadline=2000, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(mutated(seed))
    def check(data):
        count["n"] += 1
        try:
            parse_upload(as_upload(data))
        except HeartEyeError:
            pass

    return check


def main() -> int:
    budget = int(os.environ.get("HEARTEYE_FUZZ_EXAMPLES", "2000"))
    total, failures = 0, []
    for name, (seed, as_upload) in sorted(TARGETS.items()):
        count = {"n": 0}
        check = make_check(seed, as_upload, count, budget)

        t0 = time.perf_counter()
        try:
            check()
        except Exception as exc:  # report every target, then fail
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:500]}")
        total += count["n"]
        print(f"{name}: {count['n']} examples in {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"parser fuzz examples run: {total}  failures: {len(failures)}")
    for f in failures:
        print("  ", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
