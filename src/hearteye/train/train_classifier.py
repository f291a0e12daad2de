"""Train the normal/abnormal classifiers (XGBoost and RandomForest), readable top to bottom.

    hearteye train-classifier --master ludb.csv --master challenge.csv \
        --out src/hearteye/models/classifier

1. Features: every record of the master CSV(s) goes through `hearteye.analyze.measure_record`
   (read, quality, preprocess, ONNX delineation, measurements): the very code that serves the
   model. One row per record, cached in ``--work``/features.csv; failed records are counted.
2. Patient-grouped, repeated, stratified cross-validation (`StratifiedGroupKFold`, one
   shuffle seed per repeat): out-of-fold raw probabilities for both models, and the
   transparent rule baseline (number of measurements outside their reference range).
3. Class imbalance: balanced sample weights (XGBoost) / ``class_weight="balanced"`` (forest).
4. Calibration: Platt scaling fitted on the out-of-fold raw probabilities (cross-validated
   calibration: the calibrator never sees a prediction made on its own training rows).
5. Operating point: the highest threshold whose out-of-fold sensitivity for "abnormal" is at
   least ``--sensitivity`` (screening: 0.95 by default).
6. Final models on all rows; XGBoost saved in its JSON format, the forest as ONNX (skl2onnx);
   ``classifier.json`` records features, calibration, thresholds, CV AUCs and the default
   (the better model by cross-validated AUC). Out-of-fold predictions go to
   ``--work``/cv_predictions.csv for `hearteye evaluate-classifier`.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hearteye.classify import FORMAT_VERSION, platt
from hearteye.data.master import read_master
from hearteye.errors import HeartEyeError
from hearteye.features import FINDING_MEASUREMENTS, feature_names
from hearteye.version import __version__

log = logging.getLogger("hearteye.train_classifier")

XGB_PARAMS = dict(
    n_estimators=300,
    max_depth=3,
    learning_rate=0.05,
    subsample=0.8,
    colsample_bytree=0.8,
    min_child_weight=1.0,
    reg_lambda=1.0,
    eval_metric="logloss",
    tree_method="hist",
)
RF_PARAMS = dict(n_estimators=300, min_samples_leaf=2, max_features="sqrt", class_weight="balanced")


# --- 1. features ------------------------------------------------------------------------------


def build_features(master: pd.DataFrame, cache: Path | None = None) -> pd.DataFrame:
    """One row per record: ids, label, features (`feature_names()`) and the rule score."""
    from hearteye.analyze import measure_record
    from hearteye.io import read_record

    names = feature_names()
    done = (
        pd.read_csv(cache, dtype={"record": str, "patient": str}, float_precision="round_trip")
        if cache is not None and cache.is_file()
        else pd.DataFrame()
    )
    known = set(zip(done.get("source", []), done.get("record", []), strict=False))
    rows, failed = [], []
    for row in master.itertuples(index=False):
        if (row.source, row.record) in known:
            continue
        try:
            record = read_record(f"{row.path}.hea")
            m = measure_record(record, notch_hz=float(getattr(row, "mains_hz", 50) or 50))
        except (HeartEyeError, OSError, ValueError) as exc:
            failed.append((row.record, str(exc)))
            log.warning("record %s skipped: %s", row.record, exc)
            continue
        glob = m.measurements["global"]
        rows.append(
            {
                "record": row.record,
                "patient": row.patient,
                "source": row.source,
                "label": row.label,
                **dict(zip(names, m.features(), strict=True)),
                "rule_score": sum(glob[k].flag is not None for k in FINDING_MEASUREMENTS),
            }
        )
    table = pd.concat([done, pd.DataFrame(rows)], ignore_index=True)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(cache, index=False)
    if failed:
        log.warning("%d records failed feature extraction", len(failed))
    keys = set(zip(master["source"], master["record"], strict=True))
    table = table[[k in keys for k in zip(table["source"], table["record"], strict=True)]]
    return table.reset_index(drop=True)


# --- 2-3. models ------------------------------------------------------------------------------


def balanced_weights(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y, minlength=2).astype(float)
    return (len(y) / (2.0 * np.maximum(counts, 1)))[y]


def fit_xgboost(x, y, seed):
    import xgboost as xgb

    model = xgb.XGBClassifier(**XGB_PARAMS, random_state=seed, n_jobs=2)
    model.fit(x, y, sample_weight=balanced_weights(y))
    return model


def fit_forest(x, y, seed):
    from sklearn.ensemble import RandomForestClassifier

    medians = np.nanmedian(x, axis=0)
    medians = np.where(np.isnan(medians), 0.0, medians)
    model = RandomForestClassifier(**RF_PARAMS, random_state=seed, n_jobs=2)
    model.fit(np.where(np.isnan(x), medians, x), y)
    model.impute_medians_ = medians
    return model


def predict_raw(model, x) -> np.ndarray:
    if hasattr(model, "impute_medians_"):
        x = np.where(np.isnan(x), model.impute_medians_, x)
    return model.predict_proba(x)[:, 1]


FITTERS = {"xgboost": fit_xgboost, "random_forest": fit_forest}


def cross_validate(x, y, groups, folds: int, repeats: int, seed: int) -> dict[str, np.ndarray]:
    """Out-of-fold raw probabilities ``[repeat, row]`` per model."""
    from sklearn.model_selection import StratifiedGroupKFold

    oof = {name: np.full((repeats, len(y)), np.nan) for name in FITTERS}
    for r in range(repeats):
        cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + r)
        for train, test in cv.split(x, y, groups):
            for name, fit in FITTERS.items():
                model = fit(x[train], y[train], seed + r)
                oof[name][r, test] = predict_raw(model, x[test])
    return oof


# --- 4-5. calibration and operating point ------------------------------------------------------


def fit_platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    raw = np.clip(raw, 1e-6, 1 - 1e-6)
    logit = np.log(raw / (1 - raw)).reshape(-1, 1)
    lr = LogisticRegression(C=1e6).fit(logit, y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def threshold_for_sensitivity(p: np.ndarray, y: np.ndarray, target: float) -> float:
    """Highest threshold t with sensitivity (abnormal = 1) of ``p >= t`` at least ``target``."""
    positives = np.sort(p[y == 1])
    if positives.size == 0:
        raise HeartEyeError("no abnormal records to set a threshold on")
    k = int(np.floor((1.0 - target) * positives.size + 1e-9))  # positives we may miss
    return float(positives[k])


# --- 6. export ----------------------------------------------------------------------------------


def export_forest(model, n_features: int, path: Path) -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, n_features]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    path.write_bytes(onx.SerializeToString())


def train(
    masters: list[Path],
    out: Path,
    work: Path,
    folds: int = 5,
    repeats: int = 5,
    seed: int = 0,
    sensitivity: float = 0.95,
) -> dict:
    from sklearn.metrics import roc_auc_score

    t0 = time.time()
    master = pd.concat([read_master(m) for m in masters], ignore_index=True)
    table = build_features(master, work / "features.csv")
    names = feature_names()
    x = table[names].to_numpy(np.float64)
    y = (table["label"] == "abnormal").to_numpy(np.int64)
    groups = table["patient"].astype(str).to_numpy()
    log.info(
        "%d records (%d abnormal, %d normal), %d patients",
        len(y),
        y.sum(),
        (1 - y).sum(),
        len(set(groups)),
    )

    oof = cross_validate(x, y, groups, folds, repeats, seed)
    spec_models, predictions = {}, table[["record", "patient", "source", "label"]].copy()
    predictions["rule_score"] = table["rule_score"]
    for name, raw in oof.items():
        a, b = fit_platt(raw.ravel(), np.tile(y, repeats))
        calibrated = platt(raw, a, b)
        mean_p = calibrated.mean(axis=0)
        threshold = threshold_for_sensitivity(mean_p, y, sensitivity)
        aucs = [roc_auc_score(y, calibrated[r]) for r in range(repeats)]
        predictions[f"{name}_p"] = mean_p
        spec_models[name] = {
            "calibration": {"method": "platt", "a": a, "b": b},
            "threshold": threshold,
            "cv_auc_mean": float(np.mean(aucs)),
            "cv_auc_sd": float(np.std(aucs)),
        }
    rule_aucs = roc_auc_score(y, table["rule_score"])
    default = max(spec_models, key=lambda k: spec_models[k]["cv_auc_mean"])

    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    xgb_model = fit_xgboost(x, y, seed)
    booster = xgb_model.get_booster()
    booster.feature_names = names  # serving checks the feature order against these
    booster.save_model(str(out / "xgboost.json"))
    spec_models["xgboost"]["file"] = "xgboost.json"
    forest = fit_forest(x, y, seed)
    export_forest(forest, len(names), out / "random_forest.onnx")
    spec_models["random_forest"]["file"] = "random_forest.onnx"
    spec_models["random_forest"]["impute_medians"] = [float(v) for v in forest.impute_medians_]

    spec = {
        "format_version": FORMAT_VERSION,
        "version": f"{__version__}+{time.strftime('%Y%m%d')}",
        "feature_names": names,
        "default": default,
        "models": spec_models,
        "training": {
            "masters": [str(m) for m in masters],
            "records": int(len(y)),
            "abnormal": int(y.sum()),
            "normal": int((1 - y).sum()),
            "patients": int(len(set(groups))),
            "folds": folds,
            "repeats": repeats,
            "seed": seed,
            "target_sensitivity": sensitivity,
            "rule_baseline_auc": float(rule_aucs),
            "sources": table["source"].value_counts().to_dict(),
            "xgboost_params": XGB_PARAMS,
            "forest_params": RF_PARAMS,
            "seconds": round(time.time() - t0, 1),
        },
    }
    (out / "classifier.json").write_text(json.dumps(spec, indent=2) + "\n")
    predictions.to_csv(work / "cv_predictions.csv", index=False)
    return spec
