"""WFDB reader (minimal first version; hardened by the io work: bytes input, units, .mat)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from hearteye.record import Record, RecordMeta, normalise_lead_name

_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nv": 1e-6}


def read_wfdb(path: str | Path) -> Record:
    """Read a WFDB record from its ``.hea`` path (or the path without extension)."""
    path = Path(path)
    base = path.with_suffix("") if path.suffix == ".hea" else path
    rec = wfdb.rdrecord(str(base), physical=True)
    units = tuple(rec.units or ["mV"] * rec.n_sig)
    scale = np.array([_TO_MV.get(u.strip().lower(), 1.0) for u in units], dtype=np.float64)
    signal = (rec.p_signal.T * scale[:, None]).astype(np.float32)
    return Record(
        signal=signal,
        fs=float(rec.fs),
        leads=tuple(normalise_lead_name(n) for n in rec.sig_name),
        meta=RecordMeta(
            source=base.name + ".hea",
            record_name=rec.record_name,
            original_units=units,
            original_fs=float(rec.fs),
        ),
    )
