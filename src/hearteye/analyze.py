"""`analyze(record) -> Analysis`: the one end-to-end core behind the CLI, the API and batch jobs.

Pure: takes a `Record`, returns an `Analysis`; no file or network I/O (model files are loaded
once per process and cached). Steps: quality flags -> preprocess (display copy in mV and the
model's z-scored copy) -> delineate (ONNX U-Net) -> pacing spikes (on the unfiltered record),
beat types, median beats -> measure -> interpret (coded statements, overall line, alerts) ->
classify, the verdict agreeing with the statements by the rule of `hearteye.interpret.verdict`.

One path for every length, in bounded memory: a record longer than 300 s (a Holter analysed
whole) is never held preprocessed (`hearteye.chunks`): every step that reads samples makes a
pass over it chunk by chunk and keeps only beats, per-beat values and sums; the beats,
measurements and statements are those of the whole record to float rounding
(`tests/test_chunks.py`). What an `Analysis` lists sample by sample or beat by beat (the
display copy, the beats) stops after ``LISTED_MAX_S`` (300 s): a 24 h record's ~100,000 beats
per lead would be ~80 MB of objects per lead and a JSON summary of tens of MB.

`measure_record` is the chain up to the measurements; the classifier's training uses it, so
the features a model is trained on are computed by exactly the code that serves it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hearteye.chunks import Chunking, SignalChunks
from hearteye.classify import get_classifier, range_reasons
from hearteye.delineate.beats import beat_types
from hearteye.delineate.median import delineate_median, median_of, median_windows
from hearteye.delineate.pacing import Pacing, detect_pacing, paced_beats
from hearteye.delineate.runtime import Delineation, get_delineator
from hearteye.errors import InvalidRecordError
from hearteye.features import feature_vector, lead_amplitudes, measure
from hearteye.interpret import interpret
from hearteye.interpret.verdict import reconcile
from hearteye.quality import MIN_DURATION_S, QualityFlag, assess
from hearteye.record import Record
from hearteye.signal import PreprocessConfig

LISTED_MAX_S = 300.0  # an Analysis lists samples and beats of the first this many seconds


@dataclass(frozen=True)
class Analysis:
    """Everything the clinician sees for one ECG.

    ``signal`` is the display copy: band-passed and notched, in mV, at ``fs`` (500 Hz),
    ``signal[lead, sample]`` with lead names ``leads``. ``beats`` are global beats as dicts of
    seconds from the record start (the boundaries ``p_onset, p_offset, qrs_onset, qrs_offset,
    t_offset`` and the points ``p_peak, qrs_peak, q_peak, r_peak, s_peak, r_prime_peak,
    j_point, t_onset, t_peak``, ``None`` where absent) plus the beat's ``type``
    (`hearteye.delineate.beats`); ``lead_beats`` the same per lead, without type.
    ``median_beats``: the representative beat per lead and what was measured on it;
    ``pacing``: the pacemaker spikes found (`hearteye.delineate.pacing`); paced beats are not
    measured as native beats. ``record`` describes
    what was analysed (``duration_s``) and the whole recording (``recording_duration_s``);
    ``analysed_seconds`` is how much of it, from the start, was analysed (less only when the
    record was cut to ``max_seconds``, by `analyze` or by the reader; an ``excerpt`` quality
    flag then says so). ``listed_seconds``: the stretch from the start that ``signal``,
    ``beats`` and ``lead_beats`` cover: all that was analysed, up to ``LISTED_MAX_S`` (300 s);
    the measurements, statements, median beats and pacing always cover all of it.
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
    # {"fs", "fiducial_s", "n_beats", "beat" (its global points, s from the window start),
    #  "intervals" (ms), "amplitudes" {lead: {wave: mV}}, "signals" {lead: [mV]}} or None
    median_beats: dict | None = None
    pacing: dict | None = None  # Pacing.to_dict(): assessed, reason, spikes
    # [{"code", "snomed", "text", "category", "severity", "method", "evidence", "leads"}]
    statements: list[dict] = field(default_factory=list)
    # {"overall", "severity", "alerts", "technical", "verdict_source"}
    interpretation: dict = field(default_factory=dict)
    listed_seconds: float | None = None

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
            "median_beats": self.median_beats,
            "pacing": self.pacing,
            "statements": self.statements,
            "interpretation": self.interpretation,
            "listed_seconds": self.listed_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict, signal: np.ndarray) -> Analysis:
        """The inverse of `to_dict`, given the samples it leaves out: ``signal[lead, sample]``
        in mV at ``data["fs"]`` (a stored display signal may be shorter than the analysed
        one). ``reasons`` and ``analysed_seconds`` may be absent (summaries stored before
        they existed), as may ``median_beats``, ``pacing``, ``statements``,
        ``interpretation`` and ``listed_seconds`` (then all that was analysed)."""
        return cls(
            record=data["record"],
            fs=float(data["fs"]),
            leads=tuple(data["leads"]),
            signal=signal,
            beats=data["beats"],
            lead_beats=data["lead_beats"],
            measurements=data["measurements"],
            quality=data["quality"],
            classification=data["classification"],
            probability_abnormal=float(data["probability_abnormal"]),
            model=data["model"],
            delineator=data["delineator"],
            reasons=data.get("reasons", []),
            analysed_seconds=data.get("analysed_seconds"),
            median_beats=data.get("median_beats"),
            pacing=data.get("pacing"),
            statements=data.get("statements", []),
            interpretation=data.get("interpretation", {}),
            listed_seconds=data.get("listed_seconds", data.get("analysed_seconds")),
        )


@dataclass(frozen=True)
class MeasuredRecord:
    """The chain up to the measurements (everything but the verdict)."""

    record: Record
    samples: SignalChunks  # the preprocessed record, held or streamed (`hearteye.chunks`)
    display: np.ndarray  # band-passed + notched mV at 500 Hz, [lead, sample]: the listed part
    fs: float
    delineation: Delineation  # of a streamed record, per-lead beats of the listed part only
    measurements: dict
    quality: list[QualityFlag]
    pacing: Pacing
    beat_types: tuple  # one per global beat (`hearteye.delineate.beats`)
    median: dict | None  # the median beats, see `Analysis.median_beats`

    def features(self) -> np.ndarray:
        meta = self.record.meta
        return feature_vector(self.measurements, meta.age, meta.sex)

    def statements(self) -> tuple[list[dict], dict]:
        """Coded statements and the overall interpretation (before the verdict's rule)."""
        meta = self.record.meta
        return interpret(
            self.samples,
            self.fs,
            self.record.leads,
            self.delineation.beats,
            self.measurements,
            [f.to_dict() for f in self.quality],
            meta.age,
            meta.sex,
            base_features=self.features(),
            pacing=self.pacing.to_dict(),
            paced_beats=[t == "paced" for t in self.beat_types],
        )


def measure_record(
    record: Record, *, notch_hz: float | None = 50.0, chunking: Chunking | None = None
) -> MeasuredRecord:
    """Quality flags, preprocessing, delineation and measurements for one record (a long one
    in chunks, as ``chunking`` says; default `hearteye.chunks.Chunking()`)."""
    if record.duration < MIN_DURATION_S:
        raise InvalidRecordError(
            f"the recording lasts {record.duration:.2f} s; HeartEye needs at least "
            f"{MIN_DURATION_S:g} s to measure a rhythm",
            code="record_too_short",
        )
    # The model sees the z-scored copy; clinicians and the measurements need millivolts.
    samples = SignalChunks.of(record, PreprocessConfig(notch_hz=notch_hz), chunking or Chunking())
    fs = samples.fs
    listed = min(samples.n, int(round(LISTED_MAX_S * fs)))
    delineation = get_delineator().delineate_chunks(samples, record.fs, lead_beats_until=listed)
    quality = assess(record, notch_hz=notch_hz, filtered=samples)
    beats = delineation.beats
    # Spikes on the samples as recorded: band-pass filtering would smear them away.
    pacing = detect_pacing(record.signal, record.fs, beats, delineation.fs)
    paced = paced_beats(pacing, beats, delineation.fs)
    types = beat_types(beats, samples, fs, paced, usable=~samples.flat)
    measurements = measure(
        samples,
        fs,
        record.leads,
        beats,
        record.meta.sex,
        uncalibrated=record.meta.uncalibrated_leads,
        paced=paced,
    )
    median = _median(samples, beats, types, record.leads)
    return MeasuredRecord(
        record,
        samples,
        samples.head(listed),
        fs,
        delineation,
        measurements,
        quality,
        pacing,
        tuple(types),
        median,
    )


def _median(samples: SignalChunks, beats, types, leads) -> dict | None:
    """The median beats in mV, delineated on their z-scored twin, with the intervals and
    per-lead amplitudes measured on them (what 12SL / DXL report)."""
    fs = samples.fs
    chosen = median_windows(beats, types, fs, samples.n)
    if chosen is None:
        return None
    centres, offsets, fiducial = chosen
    block_mv, block_z = samples.take_pair(centres, offsets)
    med_mv, med_z = median_of(block_mv, fs, fiducial), median_of(block_z, fs, fiducial)
    beat = delineate_median(get_delineator(), med_z, samples.flat)
    out = {
        "fs": fs,
        "fiducial_s": round(med_mv.fiducial / fs, 4),
        "n_beats": med_mv.n_beats,
        "beat": None if beat is None else beat.to_seconds(fs),
        "intervals": None,
        "amplitudes": None,
        "signals": {
            lead: np.round(med_mv.signal[i].astype(np.float64), 4).tolist()
            for i, lead in enumerate(leads)
        },
    }
    if beat is not None:
        out["intervals"] = {
            name: None if a is None or b is None else round((b - a) * 1000.0 / fs, 1)
            for name, (a, b) in {
                "p_duration": (beat.p_onset, beat.p_offset),
                "pr_interval": (beat.p_onset, beat.qrs_onset),
                "qrs_duration": (beat.qrs_onset, beat.qrs_offset),
                "qt_interval": (beat.qrs_onset, beat.t_offset),
            }.items()
        }
        out["amplitudes"] = {
            lead: {k: _round(v) for k, v in lead_amplitudes(med_mv.signal[i], [beat], fs).items()}
            for i, lead in enumerate(leads)
        }
    return out


def analyze(
    record: Record,
    *,
    model: str | None = None,
    notch_hz: float | None = 50.0,
    max_seconds: float | None = None,
) -> Analysis:
    """Run the whole chain on ``record``. ``model``: "xgboost" | "random_forest" | None (the
    shipped default: the better one by cross-validated AUC). ``max_seconds``: analyse only
    the first ``max_seconds`` of a longer record, which bounds time (a 24 h 2-lead Holter
    analysed whole takes over a minute; memory stays bounded either way, `hearteye.chunks`);
    an ``excerpt`` flag says so."""
    if max_seconds is not None:
        record = record.head(max_seconds)
    m = measure_record(record, notch_hz=notch_hz)
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
    listed = m.display.shape[1]
    return Analysis(
        record=record.summary(),
        fs=m.fs,
        leads=record.leads,
        signal=m.display,
        beats=[
            {**b.to_seconds(d.fs), "type": t}
            for b, t in zip(d.beats, m.beat_types, strict=True)
            if b.anchor() < listed
        ],
        lead_beats={
            lead: [b.to_seconds(d.fs) for b in beats if b.anchor() < listed]
            for lead, beats in d.leads.items()
        },
        measurements={
            "global": {k: v.to_dict() for k, v in m.measurements["global"].items()},
            "leads": {
                lead: {k: _round(v) for k, v in waves.items()}
                for lead, waves in m.measurements["leads"].items()
            },
        },
        quality=[f.to_dict() for f in m.quality],
        classification=label,
        probability_abnormal=round(decision.probability_abnormal, 4),
        model=decision.model,
        delineator=d.model,
        reasons=reasons,
        analysed_seconds=round(record.duration, 6),
        median_beats=m.median,
        pacing=m.pacing.to_dict(),
        statements=statements,
        interpretation={**interpretation, "verdict_source": verdict_source},
        listed_seconds=round(listed / m.fs, 6),
    )


def _round(v: float) -> float | None:
    return None if math.isnan(v) else round(float(v), 4)


def load_models(model: str | None = None) -> None:
    """Load the delineator and the classifier ``model`` into this process (cached), as a
    server worker does at start and a batch run before it forks its workers."""
    get_delineator()
    get_classifier().load(model)


def delineator_version() -> str:
    """Name and version of the delineation model in use (from its ONNX metadata)."""
    return get_delineator().version
