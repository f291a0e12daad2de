"""Plain JSON from analysis results, the one conversion the CLI and the API share.

Rules: numpy scalars and arrays become Python numbers and lists; tuples become lists; mapping
keys become strings; NaN and infinity become ``null``. JSON has no NaN: PostgreSQL's json type
and browsers' ``JSON.parse`` both reject it, and an unmeasurable interval is "no value", which
is what ``null`` says.
"""

from __future__ import annotations

import math

import numpy as np


def json_safe(obj):
    """``obj`` with only JSON types left (see the module rules); other objects unchanged."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
