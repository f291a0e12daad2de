"""An `Analysis` built from a LUDB record and its cardiologists' reference annotations.

For testing what consumes an `Analysis` (the plot) independently of the models: the
boundaries are LUDB's own, the measurements come from `hearteye.features.measure`, and the
classification fields are placeholders. Never used by the service itself.
"""

from __future__ import annotations

from pathlib import Path

from hearteye.analyze import Analysis
from hearteye.data.annotations import read_annotation
from hearteye.data.ludb import LEAD_EXTENSIONS
from hearteye.data.masks import parse_waves
from hearteye.delineate.postprocess import Beat
from hearteye.features import measure
from hearteye.io import read_wfdb
from hearteye.quality import assess
from hearteye.signal import PreprocessConfig, preprocess


def _beats(samples, symbols, n: int) -> list[Beat]:
    waves = [w for w in parse_waves(samples, symbols, n) if w.complete]
    beats = []
    for i, w in enumerate(waves):
        if w.kind != "N":
            continue
        p = waves[i - 1] if i > 0 and waves[i - 1].kind == "p" else None
        t = waves[i + 1] if i + 1 < len(waves) and waves[i + 1].kind == "t" else None
        beats.append(Beat(p_onset=p.onset if p else None, p_offset=p.offset if p else None,
                          qrs_onset=w.onset, qrs_offset=w.offset,
                          t_offset=t.offset if t else None))
    return beats


def reference_analysis(hea: Path, classification: str = "abnormal",
                       probability: float = 0.8) -> Analysis:
    record = read_wfdb(hea)
    pre = preprocess(record, PreprocessConfig(zscore=False))
    n = pre.signal.shape[1]
    per_lead = {}
    for lead, ext in zip(record.leads, LEAD_EXTENSIONS, strict=True):
        samples, symbols = read_annotation(hea.with_suffix(f".{ext}"))
        per_lead[lead] = _beats(samples, symbols, n)
    glob = per_lead.get("II") or next(iter(per_lead.values()))
    meas = measure(pre.signal, pre.fs, pre.leads, glob, sex=record.meta.sex)
    return Analysis(
        record=record.summary(), fs=pre.fs, leads=pre.leads, signal=pre.signal,
        beats=[b.to_seconds(pre.fs) for b in glob],
        lead_beats={k: [b.to_seconds(pre.fs) for b in v] for k, v in per_lead.items()},
        measurements={"global": {k: m.to_dict() for k, m in meas["global"].items()},
                      "leads": meas["leads"]},
        quality=[f.to_dict() for f in assess(record)],
        classification=classification, probability_abnormal=probability,
        model="reference-annotations", delineator="ludb-cardiologists",
        reasons=[{"feature": "qrs_axis", "value": -45.0, "effect": 0.2,
                  "text": "left axis deviation"}],
    )
