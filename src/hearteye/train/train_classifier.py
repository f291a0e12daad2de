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
5. Operating point: without a validation fold, the highest threshold whose out-of-fold
   sensitivity for "abnormal" is at least ``--sensitivity`` (screening: 0.95 by default);
   with one, the threshold of the shipped verdict (probability or an abnormal statement) with
   the best Youden index among those reaching ``--sensitivity`` on it
   (`threshold_for_verdict`).
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
from hearteye.interpret.verdict import forcing_statements
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
# Leaves of >= 5 records: smoother probabilities across sources, and an ONNX file of ~1 MB
# rather than 3 MB on 2,000 training records.
RF_PARAMS = dict(n_estimators=200, min_samples_leaf=5, max_features="sqrt", class_weight="balanced")


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
            record = with_master_meta(read_record(f"{row.path}.hea"), row)
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
                **{c: getattr(row, c) for c in ("fold", "ecg", "fs") if hasattr(row, c)},
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


def statement_abnormal(master: pd.DataFrame, table: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """For ``rows`` of ``table``: does the shipped interpretation make an abnormal or critical
    statement (which forces the verdict to abnormal, `hearteye.interpret.verdict`)? Computed
    here, not cached with the features, so it always reflects the statement models in use."""
    from hearteye.analyze import measure_record
    from hearteye.io import read_record

    by_key = master.set_index(["source", "record"])
    out = np.zeros(len(table), bool)
    for i in np.flatnonzero(rows):
        row = by_key.loc[(table["source"].iat[i], table["record"].iat[i])]
        row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
        record = with_master_meta(read_record(f"{row['path']}.hea"), row)
        m = measure_record(record, notch_hz=float(row.get("mains_hz", 50) or 50))
        statements, _ = m.statements()
        out[i] = bool(forcing_statements(statements))
    return out


def with_master_meta(record, row):
    """The record with the master's age and sex where its header has none (PTB-XL's headers
    carry neither; its database does)."""
    from dataclasses import replace

    get = row.get if isinstance(row, pd.Series) else lambda k, d=None: getattr(row, k, d)
    age, sex = get("age", None), get("sex", None)
    meta = record.meta
    if meta.age is None and age is not None and not pd.isna(age):
        meta = replace(meta, age=float(age))
    if meta.sex is None and sex in ("M", "F"):
        meta = replace(meta, sex=sex)
    return replace(record, meta=meta) if meta is not record.meta else record


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


def threshold_for_verdict(p: np.ndarray, y: np.ndarray, forced: np.ndarray, target: float) -> float:
    """The threshold t of the verdict ``p >= t or forced`` (an abnormal statement forces
    abnormal): among the thresholds whose sensitivity is >= ``target``, the one with the
    largest Youden index (sensitivity + specificity - 1); of equals, the lowest.

    Why not simply the highest threshold that keeps the sensitivity: once the statements
    catch most positives, specificity stops improving long before sensitivity stops falling,
    and the highest such threshold sits at the edge of a plateau (on PTB-XL fold 9 it was
    0.92: records with a calibrated P(abnormal) of 0.91, which are abnormal nine times in
    ten, were called normal for no gain in specificity). Candidates are the probabilities
    themselves (each is where the verdict of one record changes)."""
    positives, negatives = int(y.sum()), int((y == 0).sum())
    if positives == 0 or negatives == 0:
        raise HeartEyeError("need abnormal and normal records to set a threshold on")
    best_t, best_j = 1.0, -np.inf
    for t in np.unique(np.concatenate([p, [1.0]])):
        pred = (p >= t) | forced
        se = float((pred & (y == 1)).sum()) / positives
        sp = float((~pred & (y == 0)).sum()) / negatives
        if se >= target and se + sp - 1.0 > best_j + 1e-12:
            best_t, best_j = float(t), se + sp - 1.0
    return best_t


def drop_duplicate_ecgs(table: pd.DataFrame) -> pd.DataFrame:
    """Challenge ``HRnnnnn`` records that are PTB-XL ECG nnnnn already in the table: one ECG
    must not sit in two splits."""
    if "ecg" not in table:
        return table
    ecgs = pd.to_numeric(table.loc[table["source"] == "ptbxl", "ecg"], errors="coerce")
    ptbxl = {str(int(e)) for e in ecgs.dropna()}
    hr = np.array(
        [
            r.startswith("HR") and r[2:].isdigit() and str(int(r[2:])) in ptbxl
            for r in table["record"]
        ]
    )
    dup = (table["source"] == "challenge").to_numpy() & hr
    return table[~dup].reset_index(drop=True)


def split_rows(
    table: pd.DataFrame, validation_fold: int | None, holdout: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, held-out) row masks. Validation: PTB-XL ``fold == validation_fold``,
    one copy per ECG (500 Hz where both rates are held); PTB-XL folds above it (the test fold)
    are left out; held-out: the ``holdout`` sources, which neither train nor choose."""
    n = len(table)
    ho = table["source"].isin(holdout).to_numpy()
    if validation_fold is None or "fold" not in table:
        return ~ho, np.zeros(n, bool), ho
    fold = pd.to_numeric(table["fold"], errors="coerce").to_numpy()
    ptbxl = (table["source"] == "ptbxl").to_numpy()
    in_val = ptbxl & (fold == validation_fold)
    later = ptbxl & (fold > validation_fold)
    va = in_val.copy()
    if "ecg" in table and "fs" in table:
        order = table.assign(_r=np.arange(n), _o=(table["fs"] != 500.0).astype(int))
        first = order[in_val].sort_values(["ecg", "_o"]).drop_duplicates("ecg")["_r"]
        va = np.zeros(n, bool)
        va[first.to_numpy()] = True
    return ~(in_val | later | ho), va, ho & ~in_val


def train(
    masters: list[Path],
    out: Path,
    work: Path,
    folds: int = 5,
    repeats: int = 5,
    seed: int = 0,
    sensitivity: float = 0.95,
    validation_fold: int | None = None,
    holdout: tuple[str, ...] = (),
) -> dict:
    """Train on the training rows; with ``validation_fold``, the threshold is chosen on PTB-XL's
    fold (the combined verdict's sensitivity, `threshold_for_verdict`), else on the
    out-of-fold predictions; ``holdout`` sources are only predicted."""
    from sklearn.metrics import roc_auc_score

    t0 = time.time()
    master = pd.concat([read_master(m) for m in masters], ignore_index=True)
    table = drop_duplicate_ecgs(build_features(master, work / "features.csv"))
    names = feature_names()
    tr, va, ho = split_rows(table, validation_fold, holdout)
    x_all = table[names].to_numpy(np.float64)
    y_all = (table["label"] == "abnormal").to_numpy(np.int64)
    forced_all = statement_abnormal(master, table, va | ho)
    x, y = x_all[tr], y_all[tr]
    groups = table["patient"].astype(str).to_numpy()[tr]
    log.info(
        "train %d records (%d abnormal, %d normal), %d patients; validation %d; held out %d",
        len(y),
        y.sum(),
        (1 - y).sum(),
        len(set(groups)),
        va.sum(),
        ho.sum(),
    )

    oof = cross_validate(x, y, groups, folds, repeats, seed)
    finals = {name: fit(x, y, seed) for name, fit in FITTERS.items()}
    cols = ["record", "patient", "source", "label", "rule_score"]
    predictions = table.loc[tr, cols].copy()
    predictions["split"] = "cv"
    predictions["statement_abnormal"] = np.nan  # not computed for the training rows
    later = {
        k: table.loc[m, cols].assign(split=k, statement_abnormal=forced_all[m])
        for k, m in (("validation", va), ("holdout", ho))
        if m.any()
    }
    spec_models = {}
    for name, raw in oof.items():
        a, b = fit_platt(raw.ravel(), np.tile(y, repeats))
        calibrated = platt(raw, a, b)
        mean_p = calibrated.mean(axis=0)
        aucs = [roc_auc_score(y, calibrated[r]) for r in range(repeats)]
        predictions[f"{name}_p"] = mean_p
        for k, frame in later.items():
            m = va if k == "validation" else ho
            frame[f"{name}_p"] = platt(predict_raw(finals[name], x_all[m]), a, b)
        if va.any():
            threshold = threshold_for_verdict(
                later["validation"][f"{name}_p"].to_numpy(), y_all[va], forced_all[va], sensitivity
            )
            chosen_on = f"PTB-XL fold {validation_fold}"
        else:
            threshold = threshold_for_sensitivity(mean_p, y, sensitivity)
            chosen_on = "out-of-fold predictions"
        spec_models[name] = {
            "calibration": {"method": "platt", "a": a, "b": b},
            "threshold": threshold,
            "threshold_chosen_on": chosen_on,
            "cv_auc_mean": float(np.mean(aucs)),
            "cv_auc_sd": float(np.std(aucs)),
        }
        if va.any():
            spec_models[name]["validation_auc"] = float(
                roc_auc_score(y_all[va], later["validation"][f"{name}_p"])
            )
    rule_aucs = roc_auc_score(y, table.loc[tr, "rule_score"])
    key = "validation_auc" if va.any() else "cv_auc_mean"
    default = max(spec_models, key=lambda k: spec_models[k][key])

    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    booster = finals["xgboost"].get_booster()
    booster.feature_names = names  # serving checks the feature order against these
    booster.save_model(str(out / "xgboost.json"))
    spec_models["xgboost"]["file"] = "xgboost.json"
    forest = finals["random_forest"]
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
            "validation_fold": validation_fold,
            "validation_records": int(va.sum()),
            "holdout_sources": list(holdout),
            "holdout_records": int(ho.sum()),
            "folds": folds,
            "repeats": repeats,
            "seed": seed,
            "target_sensitivity": sensitivity,
            "verdict_rule": "abnormal when p >= threshold or an abnormal/critical statement",
            "rule_baseline_auc": float(rule_aucs),
            "sources": table.loc[tr, "source"].value_counts().to_dict(),
            "xgboost_params": XGB_PARAMS,
            "forest_params": RF_PARAMS,
            "seconds": round(time.time() - t0, 1),
        },
    }
    (out / "classifier.json").write_text(json.dumps(spec, indent=2) + "\n")
    pd.concat([predictions, *later.values()], ignore_index=True).to_csv(
        work / "cv_predictions.csv", index=False
    )
    return spec
