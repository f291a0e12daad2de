"""How the normal/abnormal verdict and the statements agree.

The rule (the API's ``classification`` and ``probability_abnormal`` read from it):

1. ``probability_abnormal`` is the classifier's calibrated probability, never edited.
2. ``classification`` is ``"abnormal"`` when that probability reaches the shipped threshold
   **or** any clinical (non-technical) statement has severity ``abnormal`` or ``critical``;
   otherwise ``"normal"``. An abnormal statement always wins: a clinician must never read
   "Left bundle branch block" beside "Normal".
3. When the classifier alone calls it abnormal (probability >= threshold, no statement of
   severity borderline or worse), the statement ``ABNMODEL`` ("Abnormal ECG pattern by the
   learned classifier", borderline, with the probability, threshold and top drivers as
   evidence) is added, so the overall line reads "Borderline ECG", never "Normal ECG", beside
   an Abnormal verdict.
4. ``verdict_source`` says what decided: ``"model"``, ``"statements"`` or ``"both"`` (or
   ``"none"`` for a normal verdict).

Consequences (tested): overall "Abnormal ECG" implies classification abnormal; classification
abnormal implies an overall line of "Borderline ECG" or "Abnormal ECG"; classification normal
implies no abnormal or critical statement.
"""

from __future__ import annotations

from hearteye.interpret.catalogue import SEVERITIES
from hearteye.interpret.engine import overall, statement

FORCING = frozenset({"abnormal", "critical"})


def forcing_statements(statements: list[dict]) -> list[dict]:
    return [s for s in statements if s["category"] != "technical" and s["severity"] in FORCING]


def reconcile(
    probability: float,
    threshold: float,
    drivers: list[dict],
    statements: list[dict],
    measurements: dict,
) -> tuple[str, str, list[dict], dict]:
    """(classification, verdict_source, statements, interpretation) by the module's rule."""
    by_model = probability >= threshold
    by_statements = bool(forcing_statements(statements))
    statements = list(statements)
    if by_model and not any(
        s["category"] != "technical"
        and SEVERITIES.index(s["severity"]) >= SEVERITIES.index("borderline")
        for s in statements
    ):
        evid = {
            "probability": round(float(probability), 4),
            "threshold": round(float(threshold), 4),
            "drivers": drivers[:3],
        }
        statements.append(statement("ABNMODEL", "model", evid))
    source = {
        (True, True): "both",
        (True, False): "model",
        (False, True): "statements",
        (False, False): "none",
    }[(by_model, by_statements)]
    label = "abnormal" if by_model or by_statements else "normal"
    return label, source, statements, overall(statements, measurements)
