"""Metrics of the classifiers from their cross-validated, out-of-fold predictions.

    hearteye evaluate-classifier --work out/classifier --models src/hearteye/models/classifier

For each model (XGBoost, RandomForest, and the rule baseline): ROC AUC with a 95% interval
from a patient-level bootstrap (patients, not rows, are resampled: rows of one patient are
not independent), and at the shipped operating point: sensitivity, specificity, Brier score
and the confusion matrix. Writes ``evaluation.json`` and the model card's classifier table.

When the predictions carry a ``split`` column (training with a validation fold), each split is
reported on its own: ``cv`` (out-of-fold on the training rows), ``validation`` (the fold that
chose the threshold) and ``holdout`` (sources that neither trained nor chose anything), and the
shipped verdict (``p >= threshold`` or an abnormal statement, `hearteye.interpret.verdict`) is
reported beside the model's bare operating point.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

BOOTSTRAP = 2000


def bootstrap_auc(
    y: np.ndarray, score: np.ndarray, groups: np.ndarray, n: int = BOOTSTRAP, seed: int = 0
) -> tuple[float, float]:
    """95% percentile interval of the ROC AUC over patient-level bootstrap resamples."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    patients, index = np.unique(groups, return_inverse=True)
    rows_of = [np.flatnonzero(index == i) for i in range(len(patients))]
    aucs = []
    for _ in range(n):
        pick = rng.integers(0, len(patients), len(patients))
        rows = np.concatenate([rows_of[i] for i in pick])
        if len(np.unique(y[rows])) < 2:
            continue
        aucs.append(roc_auc_score(y[rows], score[rows]))
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return float(lo), float(hi)


def operating_point(y: np.ndarray, predicted: np.ndarray) -> dict:
    tp = int(((predicted == 1) & (y == 1)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    tn = int(((predicted == 0) & (y == 0)).sum())
    fp = int(((predicted == 1) & (y == 0)).sum())
    return {
        "sensitivity": tp / max(tp + fn, 1),
        "specificity": tn / max(tn + fp, 1),
        "confusion": {"tp": tp, "fn": fn, "tn": tn, "fp": fp},
    }


SPLIT_NAMES = {
    "cv": "training rows, out-of-fold",
    "validation": "validation (chose the threshold)",
    "holdout": "held-out sources (chose nothing)",
}


def evaluate_splits(predictions: pd.DataFrame, spec: dict) -> dict:
    """`evaluate` per split, plus the shipped verdict's operating point."""
    if "split" not in predictions or set(predictions["split"]) == {"cv"}:
        return evaluate(predictions, spec)
    report = {"default": spec["default"], "splits": {}}
    for split in ("cv", "validation", "holdout"):
        part = predictions[predictions["split"] == split]
        if part.empty or part["label"].nunique() < 2:
            continue
        rep = evaluate(part.reset_index(drop=True), spec)
        rep["sources"] = part["source"].value_counts().to_dict()
        report["splits"][split] = rep
        if part["statement_abnormal"].isna().all():
            continue  # statements are computed for the validation and held-out rows only
        forced = part["statement_abnormal"].astype(bool).to_numpy()
        y = (part["label"] == "abnormal").to_numpy(int)
        for name, model in spec["models"].items():
            p = part[f"{name}_p"].to_numpy(float)
            verdict = ((p >= model["threshold"]) | forced).astype(int)
            rep["models"][name]["verdict"] = operating_point(y, verdict)
    return report


def evaluate(predictions: pd.DataFrame, spec: dict) -> dict:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = (predictions["label"] == "abnormal").to_numpy(int)
    groups = predictions["patient"].astype(str).to_numpy()
    report = {
        "records": int(len(y)),
        "abnormal": int(y.sum()),
        "normal": int((1 - y).sum()),
        "patients": int(len(set(groups))),
        "models": {},
    }
    for name, model in spec["models"].items():
        p = predictions[f"{name}_p"].to_numpy(float)
        entry = {
            "auc": float(roc_auc_score(y, p)),
            "auc_ci95": bootstrap_auc(y, p, groups),
            "brier": float(brier_score_loss(y, p)),
            "threshold": model["threshold"],
            "cv_auc_mean": model["cv_auc_mean"],
            "cv_auc_sd": model["cv_auc_sd"],
        }
        entry.update(operating_point(y, (p >= model["threshold"]).astype(int)))
        report["models"][name] = entry
    score = predictions["rule_score"].to_numpy(float)
    rule = {
        "auc": float(roc_auc_score(y, score)),
        "auc_ci95": bootstrap_auc(y, score, groups),
        "brier": None,
        "threshold": 1,
    }
    rule.update(operating_point(y, (score >= 1).astype(int)))
    report["models"]["rule_baseline"] = rule
    report["default"] = spec["default"]
    report["shipped_beats_baseline"] = report["models"][spec["default"]]["auc"] > rule["auc"]
    return report


def markdown_table(report: dict) -> str:
    if "splits" not in report:
        return _table(report)
    parts = []
    for split, rep in report["splits"].items():
        sources = ", ".join(f"{k} {v}" for k, v in rep["sources"].items())
        parts.append(f"**{SPLIT_NAMES[split]}** ({sources})\n\n" + _table(rep))
        rows = [
            f"| {name} | {m['verdict']['sensitivity']:.3f} | {m['verdict']['specificity']:.3f} | "
            + " / ".join(str(m["verdict"]["confusion"][k]) for k in ("tp", "fn", "tn", "fp"))
            + " |"
            for name, m in rep["models"].items()
            if "verdict" in m
        ]
        if not rows:
            continue
        parts.append(
            "Shipped verdict (abnormal when p >= threshold or an abnormal/critical statement):"
            "\n\n| model | sensitivity | specificity | TP / FN / TN / FP |\n|---|---|---|---|\n"
            + "\n".join(rows)
            + "\n"
        )
    return "\n".join(parts)


def _table(report: dict) -> str:
    lines = [
        f"{report['records']} records ({report['abnormal']} abnormal, "
        f"{report['normal']} normal), {report['patients']} patients; AUC interval: "
        f"patient-level bootstrap, {BOOTSTRAP} resamples. Default model: "
        f"**{report['default']}**.",
        "",
        "| model | ROC AUC (95% CI) | CV AUC mean ± SD | threshold | sensitivity | specificity "
        "| Brier | TP / FN / TN / FP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in report["models"].items():
        lo, hi = m["auc_ci95"]
        cv = (
            f"{m['cv_auc_mean']:.3f} ± {m['cv_auc_sd']:.3f}"
            if "cv_auc_mean" in m
            else "(no training)"
        )
        brier = "n/a" if m["brier"] is None else f"{m['brier']:.3f}"
        c = m["confusion"]
        thr = f"{m['threshold']:.3f}" if name != "rule_baseline" else ">= 1 flag"
        lines.append(
            f"| {name} | {m['auc']:.3f} ({lo:.3f}-{hi:.3f}) | {cv} | {thr} | "
            f"{m['sensitivity']:.3f} | {m['specificity']:.3f} | {brier} | "
            f"{c['tp']} / {c['fn']} / {c['tn']} / {c['fp']} |"
        )
    return "\n".join(lines) + "\n"


def run(work: Path, models: Path) -> dict:
    # round_trip: pandas' default float parser can land one ULP off, and a probability equal
    # to the threshold must stay on the same side of it.
    predictions = pd.read_csv(
        work / "cv_predictions.csv",
        dtype={"record": str, "patient": str},
        float_precision="round_trip",
    )
    spec = json.loads((models / "classifier.json").read_text())
    report = evaluate_splits(predictions, spec)
    (models / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
