"""Load the shipped normal/abnormal classifiers, predict a calibrated probability, explain it.

Artefacts (written by `hearteye train-classifier`, folder ``src/hearteye/models/classifier/``):

* ``classifier.json``  format version, feature names (order = `features.feature_names()`),
  the default model, and for each model its file, its Platt calibration (``a``, ``b``:
  ``p = sigmoid(a * logit(raw) + b)``), its decision threshold and its cross-validated AUC;
* ``xgboost.json``     XGBoost's own JSON model format (no pickle);
* ``random_forest.onnx`` the scikit-learn forest converted by skl2onnx (ONNX opset, versioned,
  read by ONNX Runtime: serving needs neither scikit-learn nor pickle).

Reasons: for XGBoost, the exact per-record feature contributions (TreeSHAP, in log-odds) of
the top features; for every model, the measurements outside their reference range.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from hearteye.artefacts import models_dir
from hearteye.errors import HeartEyeError
from hearteye.features import FINDING_MEASUREMENTS, describe_feature

FORMAT_VERSION = 1
MODELS = ("xgboost", "random_forest")
MODEL_DIR_ENV = "HEARTEYE_CLASSIFIER_DIR"
TOP_REASONS = 5


def default_model_dir() -> Path:
    override = os.environ.get(MODEL_DIR_ENV)
    return Path(override) if override else models_dir() / "classifier"


def platt(raw: np.ndarray, a: float, b: float) -> np.ndarray:
    """Calibrated probability from a model's raw probability (Platt scaling on the logit)."""
    raw = np.clip(np.asarray(raw, dtype=np.float64), 1e-6, 1 - 1e-6)
    return 1.0 / (1.0 + np.exp(-(a * np.log(raw / (1 - raw)) + b)))


@dataclass(frozen=True)
class Decision:
    classification: str  # "normal" | "abnormal"
    probability_abnormal: float  # calibrated
    threshold: float
    model: str  # "<name> <version>"
    contributions: list[dict]  # top feature contributions (XGBoost only)


class Classifier:
    """The shipped models behind one ``classifier.json``."""

    def __init__(self, model_dir: str | Path | None = None):
        self.dir = Path(model_dir) if model_dir is not None else default_model_dir()
        spec_path = self.dir / "classifier.json"
        if not spec_path.is_file():
            raise FileNotFoundError(f"classifier not found at {spec_path} (set {MODEL_DIR_ENV})")
        self.spec = json.loads(spec_path.read_text())
        if self.spec.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{spec_path}: unsupported format {self.spec.get('format_version')}")
        self.feature_names: list[str] = self.spec["feature_names"]
        self.default: str = self.spec["default"]
        self.version: str = self.spec["version"]
        self._sessions: dict[str, object] = {}

    def _xgboost(self):
        if "xgboost" not in self._sessions:
            import xgboost as xgb

            booster = xgb.Booster()
            booster.load_model(str(self.dir / self.spec["models"]["xgboost"]["file"]))
            booster.set_param({"nthread": 1})
            self._sessions["xgboost"] = booster
        return self._sessions["xgboost"]

    def _forest(self):
        if "random_forest" not in self._sessions:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            path = self.dir / self.spec["models"]["random_forest"]["file"]
            self._sessions["random_forest"] = ort.InferenceSession(
                str(path), opts, providers=["CPUExecutionProvider"]
            )
        return self._sessions["random_forest"]

    def load(self, name: str | None = None) -> None:
        """Open the model ``name`` (default: the shipped default) now rather than on first
        use, so a server worker's first request or a batch worker's first record does not
        pay for it."""
        name = name or self.default
        if name == "xgboost":
            self._xgboost()
        elif name == "random_forest":
            self._forest()

    def raw_probability(self, name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Uncalibrated P(abnormal) for rows ``x [n, features]``, and XGBoost contributions."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        if name == "xgboost":
            import xgboost as xgb

            dm = xgb.DMatrix(x, feature_names=self.feature_names, missing=np.nan)
            booster = self._xgboost()
            return booster.predict(dm), booster.predict(dm, pred_contribs=True)
        if name == "random_forest":
            sess = self._forest()
            # skl2onnx forests cannot take NaN: the training pipeline imputed with the
            # training medians, stored in the spec, and serving must do the same.
            med = np.asarray(self.spec["models"]["random_forest"]["impute_medians"], np.float32)
            x = np.where(np.isnan(x), med, x)
            outputs = sess.run(None, {sess.get_inputs()[0].name: x})
            probs = outputs[1]
            if isinstance(probs, list):  # zipmap output: list of {class: prob}
                return np.array([p[1] for p in probs]), None
            return np.asarray(probs)[:, 1], None
        raise HeartEyeError(
            f"unknown model {name!r}; choose one of {', '.join(MODELS)}", code="unknown_model"
        )

    def predict(self, x: np.ndarray, model: str | None = None) -> Decision:
        name = model or self.default
        if name not in self.spec["models"]:
            raise HeartEyeError(
                f"unknown model {name!r}; choose one of {', '.join(MODELS)}", code="unknown_model"
            )
        spec = self.spec["models"][name]
        raw, contribs = self.raw_probability(name, x)
        p = float(platt(raw, spec["calibration"]["a"], spec["calibration"]["b"])[0])
        label = "abnormal" if p >= spec["threshold"] else "normal"
        top = []
        if contribs is not None:
            row = contribs[0][:-1]  # last column is the bias
            order = np.argsort(-np.abs(row))[:TOP_REASONS]
            values = np.atleast_2d(x)[0]
            for i in order:
                if row[i] == 0:
                    continue
                v = float(values[i])
                shown = "missing" if math.isnan(v) else f"{v:.3g}"
                top.append(
                    {
                        "feature": self.feature_names[i],
                        "value": None if math.isnan(v) else round(v, 4),
                        "effect": round(float(row[i]), 4),
                        "text": f"{describe_feature(self.feature_names[i])} ({shown}) "
                        f"{'raises' if row[i] > 0 else 'lowers'} the probability of abnormal",
                    }
                )
        return Decision(label, p, float(spec["threshold"]), f"{name} {self.version}", top)


@lru_cache(maxsize=4)
def get_classifier(model_dir: str | None = None) -> Classifier:
    return Classifier(model_dir)


def range_reasons(measurements: dict) -> list[dict]:
    """Measurements outside their reference range, as reasons a clinician reads first."""
    out = []
    for name in FINDING_MEASUREMENTS:
        m = measurements["global"][name]
        if m.flag is None:
            continue
        bound = m.high if m.flag == "high" else m.low
        out.append(
            {
                "feature": name,
                "value": round(m.value, 4),
                "effect": None,
                "text": f"{name.replace('_', ' ')} {m.value:.3g} {m.unit} is "
                f"{'above' if m.flag == 'high' else 'below'} the reference "
                f"{'maximum' if m.flag == 'high' else 'minimum'} {bound:g} {m.unit}",
            }
        )
    return out
