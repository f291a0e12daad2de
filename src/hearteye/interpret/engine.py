"""Statements, the overall line and critical alerts for one measured ECG.

`interpret(...)` gathers the beat-level and median-beat evidence, runs every rule of
`hearteye.interpret.rules`, and, for the statements whose shipped method is a learned model
(``statements/statements.json``: per statement ``rule``, ``model`` or ``either`` (made when the
rule or the model says so), chosen on validation data by `hearteye train-statements`), uses
the model's answer instead of, or besides, the rule's.

Rules this module enforces, and why:

* **Leads flagged flat or missing are left out** of every criterion (their median beat is
  zeros, which would read as low voltage or ST at baseline). A statement whose criterion used
  a lead flagged clipped or noisy carries ``caveat`` naming those leads: it is never made from
  such a lead silently.
* **No P-wave statement without P waves**: in atrial fibrillation or flutter, statements that
  need a P wave per beat (sinus rhythms, first/second-degree block, atrial enlargement, WPW,
  PAC) are dropped, whichever method proposed them.
* **Overall line** (GE 12SL / Glasgow style), from the non-technical statements: any
  ``critical`` or ``abnormal`` -> "Abnormal ECG"; else any ``borderline`` -> "Borderline ECG";
  else any normal-variant statement besides sinus rhythm (sinus bradycardia, tachycardia,
  arrhythmia) -> "Otherwise normal ECG"; else "Normal ECG". No rhythm statement at all makes it
  at least borderline ("rhythm undetermined").
* **Critical alerts**: every critical statement (STEMI, complete heart block, wide QRS
  tachycardia), heart rate > 150 or < 40 bpm, QTc > 500 ms (Framingham's, as the QT rules read
  it: `hearteye.interpret.rules` says why not Bazett's). Each alert is a dict with its code,
  text and the measured value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from hearteye.artefacts import models_dir
from hearteye.chunks import SignalChunks
from hearteye.interpret import rules
from hearteye.interpret.catalogue import CATALOGUE, P_WAVE_CODES, SEVERITIES
from hearteye.interpret.evidence import LEAD_KEYS, Evidence, gather
from hearteye.interpret.trees import TreeEnsembles
from hearteye.record import STANDARD_LEADS

RHYTHM_KEYS = (
    "n_qrs",
    "n_pac",
    "n_pvc",
    "n_blocked_p",
    "p_fraction",
    "rr_cv",
    "rr_range_ratio",
    "rr_cv_normal",
    "rr_succ",
    "pr_sd",
    "pp_cv",
    "atrial_rate",
)
NORMAL_VARIANTS = frozenset({"SBRAD", "STACH", "SARRH"})
HR_HIGH, HR_LOW, QTC_CRITICAL = 150.0, 40.0, 500.0


def evidence_feature_names() -> list[str]:
    names = [f"ev_{k}" for k in RHYTHM_KEYS]
    return names + [f"ev_{lead}_{k}" for lead in STANDARD_LEADS for k in LEAD_KEYS]


def evidence_features(ev: Evidence) -> np.ndarray:
    vec = [ev.rhythm.get(k, math.nan) for k in RHYTHM_KEYS]
    for lead in STANDARD_LEADS:
        vec += [ev.lead(lead, k) for k in LEAD_KEYS]
    return np.asarray(vec, dtype=np.float64)


@dataclass(frozen=True)
class StatementModels:
    """Per-statement learned models and the per-statement method choice."""

    spec: dict
    boosters: dict
    ensembles: TreeEnsembles | None = None

    def method(self, code: str) -> str:
        return self.spec.get("methods", {}).get(code, "rule")

    def predict(self, x: np.ndarray) -> dict[str, tuple[float, float, list[dict]]]:
        """(probability, threshold, drivers) per learned statement for one feature row.

        Probabilities from `TreeEnsembles` (all models at once, in numpy); XGBoost itself only
        for the TreeSHAP drivers of the statements made.
        """
        import xgboost as xgb

        names = self.spec["feature_names"]
        row = np.atleast_2d(x).astype(np.float32)
        probs = self.ensembles.predict(row[0]) if self.ensembles is not None else {}
        dm = None
        out = {}
        for code, booster in self.boosters.items():
            p = probs[code] if code in probs else float(booster.predict(xgb.DMatrix(row))[0])
            threshold = float(self.spec["models"][code]["threshold"])
            drivers = []
            if p >= threshold:  # TreeSHAP only for the statements made
                if dm is None:
                    dm = xgb.DMatrix(row, missing=np.nan, nthread=1)
                contrib = booster.predict(dm, pred_contribs=True, validate_features=False)[0]
                contrib = contrib[:-1]
                top = np.argsort(-np.abs(contrib))[:3]
                drivers = [
                    {
                        "feature": names[i],
                        "value": _num(x[i]),
                        "effect": round(float(contrib[i]), 3),
                    }
                    for i in top
                    if contrib[i] != 0
                ]
            out[code] = (p, threshold, drivers)
        return out


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else round(v, 4)


@lru_cache(maxsize=2)
def get_statement_models(path: str | None = None) -> StatementModels | None:
    """The shipped statement models, or None when no ``statements.json`` is shipped."""
    folder = Path(path) if path else models_dir() / "statements"
    spec_path = folder / "statements.json"
    if not spec_path.is_file():
        return None
    import xgboost as xgb

    spec = json.loads(spec_path.read_text())
    boosters = {}
    for code, m in spec.get("models", {}).items():
        if spec.get("methods", {}).get(code) not in ("model", "either"):
            continue
        b = xgb.Booster()
        b.load_model(str(folder / m["file"]))
        b.set_param({"nthread": 1})
        if b.feature_names is not None and list(b.feature_names) != spec["feature_names"]:
            raise ValueError(f"{folder / m['file']}: feature names differ from statements.json")
        b.feature_names = None  # checked once here; predictions skip the per-call check
        boosters[code] = b
    return StatementModels(spec, boosters, TreeEnsembles(boosters) if boosters else None)


def usable_leads(leads, quality: list[dict]) -> tuple[set[str], set[str]]:
    """(leads left out: flat or unreadable, leads to mention: clipped or noisy)."""
    out = {q["lead"] for q in quality if q["code"] in ("flat_lead", "non_finite") and q["lead"]}
    out |= {q["lead"] for q in quality if q["severity"] == "error" and q["lead"]}
    warn = {
        q["lead"]
        for q in quality
        if q["code"] in ("clipping", "mains_noise", "implausible_amplitude") and q["lead"]
    }
    return out, warn - out


def rule_findings(
    ev: Evidence, quality, age, sex, pacing=None, paced_beats=()
) -> list[rules.Finding]:
    found = rules.paced(pacing, list(paced_beats))
    found += rules.rhythm(ev) + rules.av_conduction(ev) + rules.conduction(ev, sex)
    found += rules.axis_and_voltage(ev, sex, age) + rules.atria(ev)
    codes = {f.code for f in found}
    found += rules.ischemia(ev, sex, age, codes) + rules.repolarization(ev, sex)
    found += rules.technical(ev, quality)
    return found


def statement(code: str, method: str, evidence: dict, leads=(), criterion=None) -> dict:
    e = CATALOGUE[code]
    return {
        "code": code,
        "snomed": e.snomed,
        "text": e.text,
        "category": e.category,
        "severity": e.severity,
        "method": method,
        "evidence": evidence,
        "leads": list(leads),
        **({"criterion": criterion} if criterion else {}),
    }


def interpret(
    signal: np.ndarray | SignalChunks,
    fs: float,
    leads,
    beats,
    measurements: dict,
    quality: list[dict],
    age: float | None,
    sex: str | None,
    base_features: np.ndarray | None = None,
    models: StatementModels | None | bool = True,
    pacing: dict | None = None,
    paced_beats=(),
) -> tuple[list[dict], dict]:
    """(statements, interpretation) for one ECG. ``base_features``: the classifier's feature
    vector (`hearteye.features.feature_vector`), needed by the learned statements;
    ``pacing`` (`Pacing.to_dict`) and ``paced_beats`` (one flag per global beat) from the
    delineation, for the paced-rhythm statement."""
    dropped, warned = usable_leads(leads, quality)
    ev = gather(signal, fs, leads, beats, measurements)
    ev = Evidence(
        ev.fs,
        ev.beats,
        ev.rhythm,
        {k: v for k, v in ev.leads.items() if k not in dropped},
        measurements,
    )
    found = rule_findings(ev, quality, age, sex, pacing, paced_beats)
    sm = get_statement_models() if models is True else (models or None)
    out = []
    for f in found:
        if sm is not None and sm.method(f.code) == "model":
            continue
        s = statement(f.code, "rule", f.evidence, f.leads, f.criterion)
        bad = sorted(set(f.leads) & warned)
        if bad:
            s["caveat"] = f"made with lead(s) {', '.join(bad)} flagged noisy or clipped"
        out.append(s)
    if sm is not None and sm.boosters and base_features is not None:
        x = np.concatenate([base_features, evidence_features(ev)])
        made = {s["code"] for s in out}
        for code, (p, thr, drivers) in sm.predict(x).items():
            # "either": the rule's evidence when both; never against the statement's definition
            if p >= thr and code not in made and rules.defined(code, ev.g):
                evid = {"probability": round(p, 4), "threshold": round(thr, 4), "drivers": drivers}
                if code in rules.DEFINED_BY:
                    name, lo, hi = rules.DEFINED_BY[code]
                    evid[name] = _num(ev.g(name))
                    evid["defined_range"] = [_num(lo), None if math.isinf(hi) else _num(hi)]
                out.append(statement(code, "model", evid))
    out = _consistent(out)
    return out, overall(out, measurements)


# Statements a paced rhythm makes meaningless: conduction (the paced QRS is wide by design),
# first-degree block (the PR is the device's AV delay), voltage, Q-wave and ST criteria (the
# paced complex and its secondary ST-T changes), as GE 12SL and Glasgow suppress them.
PACED_CONFOUNDED = frozenset(
    {"1AVB", "CLBBB", "CRBBB", "ILBBB", "IRBBB", "IVCD", "LAFB", "LPFB", "WPW", "LVH", "RVH"}
    | {"IMI", "ASMI", "LMI", "MI", "QWAVE", "STE_", "STEMI", "STD_", "NDT", "INVT"}
    | {"PRWP"}
)


def _consistent(statements: list[dict]) -> list[dict]:
    codes = {s["code"] for s in statements}
    if codes & {"AFIB", "AFLT"}:
        statements = [s for s in statements if s["code"] not in P_WAVE_CODES]
        # One atrial rhythm. Flutter is made from the atrial wave itself (one periodic wave,
        # rules.is_flutter), which fibrillation's spread f waves never formed here, while the
        # learned AF statement also fires on flutter with a varying block: keep the flutter.
        if "AFIB" in codes and "AFLT" in codes:
            statements = [s for s in statements if s["code"] != "AFIB"]
    if codes & {"CLBBB", "CRBBB"}:
        statements = [s for s in statements if s["code"] not in ("IVCD", "IRBBB", "ILBBB")]
    if "CLBBB" in codes and "CRBBB" in codes:
        statements = [s for s in statements if s["code"] != "CLBBB"]
    if "PACE" in codes:  # the paced QRS, its ST-T and the programmed AV delay are not native
        statements = [s for s in statements if s["code"] not in PACED_CONFOUNDED]
    rank = {c: i for i, c in enumerate(CATALOGUE)}
    return sorted(statements, key=lambda s: rank[s["code"]])


def overall(statements: list[dict], measurements: dict) -> dict:
    clinical = [s for s in statements if s["category"] != "technical"]
    worst = max((SEVERITIES.index(s["severity"]) for s in clinical), default=0)
    has_rhythm = any(s["category"] == "rhythm" for s in clinical)
    if worst >= SEVERITIES.index("abnormal"):
        line = "Abnormal ECG"
    elif worst == SEVERITIES.index("borderline") or not has_rhythm:
        line = "Borderline ECG"
        worst = max(worst, SEVERITIES.index("borderline"))
    elif any(s["code"] in NORMAL_VARIANTS for s in clinical):
        line = "Otherwise normal ECG"
    else:
        line = "Normal ECG"
    alerts = _alerts(statements, measurements)
    return {
        "overall": line,
        "severity": "critical" if alerts else SEVERITIES[worst],
        "alerts": alerts,
        "technical": [s["text"] for s in statements if s["category"] == "technical"],
    }


def _alerts(statements: list[dict], measurements: dict) -> list[dict]:
    glob = measurements.get("global", {})

    def value(name):
        m = glob.get(name)
        v = None if m is None else (m.value if hasattr(m, "value") else m.get("value"))
        return None if v is None or math.isnan(v) else float(v)

    alerts = [
        {"code": s["code"], "text": s["text"], "value": None}
        for s in statements
        if s["severity"] == "critical"
    ]
    hr, qtc = value("heart_rate"), value(rules.QTC)
    if hr is not None and hr > HR_HIGH:
        alerts.append({"code": "HR_HIGH", "text": f"Heart rate > {HR_HIGH:g} bpm", "value": hr})
    if hr is not None and hr < HR_LOW:
        alerts.append({"code": "HR_LOW", "text": f"Heart rate < {HR_LOW:g} bpm", "value": hr})
    if qtc is not None and qtc > QTC_CRITICAL:
        text = f"QTc > {QTC_CRITICAL:g} ms ({rules.QTC_FORMULA})"
        alerts.append({"code": "QTC_LONG", "text": text, "value": qtc})
    return alerts
