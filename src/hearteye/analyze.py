"""`analyze(record) -> Analysis`: the one end-to-end core behind the CLI, the API and batch jobs.

Pure: takes a `Record`, returns an `Analysis`; no file or network I/O (model files are loaded
once per process and cached). Steps: quality flags -> preprocess (display copy in mV and the
model's z-scored copy) -> delineate (ONNX U-Net) -> measure -> interpret (coded statements,
overall line, alerts) -> classify, the verdict agreeing with the statements by the rule of
`hearteye.interpret.verdict`.

`measure_record` is the chain up to the measurements; the classifier's training uses it, so
the features a model is trained on are computed by exactly the code that serves it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hearteye.classify import get_classifier, range_reasons
from hearteye.delineate.runtime import Delineation, get_delineator
from hearteye.errors import InvalidRecordError
from hearteye.features import feature_vector, measure
from hearteye.interpret import interpret
from hearteye.interpret.verdict import reconcile
from hearteye.quality import MIN_DURATION_S, QualityFlag, assess, excerpt_flag
from hearteye.record import Record
from hearteye.signal import PreprocessConfig, preprocess


@dataclass(frozen=True)
class Analysis:
    """Everything the clinician sees for one ECG.

    ``signal`` is the display copy: band-passed and notched, in mV, at ``fs`` (500 Hz),
    ``signal[lead, sample]`` with lead names ``leads``. ``beats`` are global beats as dicts of
    seconds from the record start (``p_onset, p_offset, qrs_onset, qrs_offset, t_offset``,
    ``None`` where a wave is absent); ``lead_beats`` the same per lead. ``record`` describes
    what was analysed (``duration_s``) and the whole recording (``recording_duration_s``);
    ``analysed_seconds`` is how much of it, from the start, was analysed (less only when the
    record was cut to ``max_seconds``, by `analyze` or by the reader; an ``excerpt`` quality
    flag then says so).
    """

    record: dict  # Record.summary()
    fs: float
    leads: tuple[str, ...]
    signal: np.ndarray
    beats: list[dict]
    lead_beats: dict[str, list[dict]]
    measurements: dict  # {"global": {name: Measurement.to_dict()}, "leads": {lead: {...}}}
    quality: list[dict]  # QualityFlag.to_dict() each
    classification: str  # "normal" | "abnormal"
    probability_abnormal: float
    model: str  # name + version of the classifier that decided
    delineator: str  # name + version of the delineation model
    reasons: list[dict] = field(default_factory=list)  # [{"feature", "value", "effect", "text"}]
    analysed_seconds: float | None = None
    # [{"code", "snomed", "text", "category", "severity", "method", "evidence", "leads"}]
    statements: list[dict] = field(default_factory=list)
    # {"overall", "severity", "alerts", "technical", "verdict_source"}
    interpretation: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready summary (no samples): what `hearteye analyze --json` prints and the
        API returns as ``summary``."""
        return {
            "record": self.record,
            "fs": self.fs,
            "leads": list(self.leads),
            "quality": self.quality,
            "measurements": self.measurements,
            "beats": self.beats,
            "lead_beats": self.lead_beats,
            "classification": self.classification,
            "probability_abnormal": self.probability_abnormal,
            "model": self.model,
            "delineator": self.delineator,
            "reasons": self.reasons,
            "analysed_seconds": self.analysed_seconds,
            "statements": self.statements,
            "interpretation": self.interpretation,
        }


@dataclass(frozen=True)
class Measured:
    """The chain up to the measurements (everything but the verdict)."""

    record: Record
    display: np.ndarray  # band-passed + notched mV at 500 Hz, [lead, sample]
    fs: float
    delineation: Delineation
    measurements: dict
    quality: list[QualityFlag]

    def features(self) -> np.ndarray:
        meta = self.record.meta
        return feature_vector(self.measurements, meta.age, meta.sex)

    def statements(self) -> tuple[list[dict], dict]:
        """Coded statements and the overall interpretation (before the verdict's rule)."""
        meta = self.record.meta
        return interpret(
            self.display,
            self.fs,
            self.record.leads,
            self.delineation.beats,
            self.measurements,
            [f.to_dict() for f in self.quality],
            meta.age,
            meta.sex,
            base_features=self.features(),
        )


def measure_record(record: Record, *, notch_hz: float | None = 50.0) -> Measured:
    """Quality flags, preprocessing, delineation and measurements for one record."""
    if record.duration < MIN_DURATION_S:
        raise InvalidRecordError(
            f"the recording lasts {record.duration:.2f} s; HeartEye needs at least "
            f"{MIN_DURATION_S:g} s to measure a rhythm",
            code="record_too_short",
        )
    pp = preprocess(record, PreprocessConfig(notch_hz=notch_hz))
    # The model sees the z-scored copy; clinicians and the measurements need millivolts.
    display = pp.signal * pp.std[:, None] + pp.mean[:, None]
    display[pp.flat] = 0.0
    quality = assess(record, notch_hz=notch_hz, filtered=(display, pp.fs))
    delineation = get_delineator().delineate_signal(pp.signal, record.leads, pp.flat)
    delineation.record_fs = float(record.fs)
    measurements = measure(display, pp.fs, record.leads, delineation.beats, record.meta.sex)
    return Measured(record, display.astype(np.float32), pp.fs, delineation, measurements, quality)


def analyze(
    record: Record,
    *,
    model: str | None = None,
    notch_hz: float | None = 50.0,
    max_seconds: float | None = None,
) -> Analysis:
    """Run the whole chain on ``record``. ``model``: "xgboost" | "random_forest" | None (the
    shipped default: the better one by cross-validated AUC). ``max_seconds``: analyse only
    the first ``max_seconds`` of a longer record, which bounds time and memory (a 24 h
    2-lead Holter analysed whole takes minutes and ~4 GB); an ``excerpt`` flag says so."""
    if max_seconds is not None:
        record = record.head(max_seconds)
    m = measure_record(record, notch_hz=notch_hz)
    quality = [f.to_dict() for f in m.quality]
    # Cut here or by the reader (`ReadLimits.max_seconds`): either way the record knows.
    if record.recording_duration - record.duration > 1.0 / record.fs:
        quality.insert(0, excerpt_flag(record.recording_duration, record.duration).to_dict())
    decision = get_classifier().predict(m.features(), model)
    statements, _ = m.statements()
    label, verdict_source, statements, interpretation = reconcile(
        decision.probability_abnormal,
        decision.threshold,
        decision.contributions,
        statements,
        m.measurements,
    )
    d = m.delineation
    reasons = decision.contributions + range_reasons(m.measurements)
    return Analysis(
        record=record.summary(),
        fs=m.fs,
        leads=record.leads,
        signal=m.display,
        beats=[b.to_seconds(d.fs) for b in d.beats],
        lead_beats={lead: [b.to_seconds(d.fs) for b in beats] for lead, beats in d.leads.items()},
        measurements={
            "global": {k: v.to_dict() for k, v in m.measurements["global"].items()},
            "leads": {
                lead: {k: _round(v) for k, v in waves.items()}
                for lead, waves in m.measurements["leads"].items()
            },
        },
        quality=quality,
        classification=label,
        probability_abnormal=round(decision.probability_abnormal, 4),
        model=decision.model,
        delineator=delineator_version(),
        reasons=reasons,
        analysed_seconds=round(record.duration, 6),
        statements=statements,
        interpretation={**interpretation, "verdict_source": verdict_source},
    )


def _round(v: float) -> float | None:
    return None if math.isnan(v) else round(float(v), 4)


def delineator_version() -> str:
    """Name and version of the delineation model in use (from its ONNX metadata)."""
    return get_delineator().version
