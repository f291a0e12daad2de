"""Hypothesis on parse_upload (zip, WFDB, EDF readers) with mutated real fixtures: only typed
errors, each example within a time bound. Bounded budget here (about 200 examples per
reader); benchmarks/fuzz_parsers.py runs the long campaign."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from hearteye.errors import HeartEyeError
from hearteye.io import parse_upload

from .parser_fuzz import TARGETS, mutated

EXAMPLES = int(os.environ.get("HEARTEYE_FUZZ_EXAMPLES", "150"))


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_parser_only_raises_typed_errors(target):
    seed, as_upload = TARGETS[target]

    @settings(
        max_examples=EXAMPLES,
        deadline=2000,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated(seed))
    def check(data):
        try:
            parse_upload(as_upload(data))
        except HeartEyeError as exc:
            assert isinstance(exc.message, str) and exc.message and exc.code

    check()
