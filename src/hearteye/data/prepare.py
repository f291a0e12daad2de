"""`hearteye prepare`: split CSV -> 10 s windows with P/QRS/QT masks, streamed and parallel.

Output folder (one per split):

=====================  =====================================  ================================
file                   dtype, shape                           meaning
=====================  =====================================  ================================
``X_data.npy``         float32 (N, 5000, 12)                  [window, sample, lead], leads in
                                                              I II III aVR aVL aVF V1..V6,
                                                              z-scored per lead; missing lead
                                                              = zeros (``missing_leads``)
``Y_data.npy``         uint8 (N, 5000, 3)                     global masks, channels P, QRS, QT
``M_data.npy``         uint8 (N, 5000)                        1 = sample may be taught
``Y_lead_data.npy``    uint8 (N, 5000, 12, 3)                 per-lead masks (only when a record
``M_lead_data.npy``    uint8 (N, 5000, 12)                    has per-lead annotations: LUDB)
``df_info.csv``        one row per window, same order as the arrays
``manifest.json``      every parameter, counts, failures, exclusions
=====================  =====================================  ================================

Mask conventions are in `hearteye.data.masks`.

**Laid out first, written once, in place.** Just before a shard (``shard_size`` consecutive
CSV rows) is handed to a worker, the parent reads its records' headers (`planned_windows`:
~0.2 ms each, no samples), so it knows where every record's windows go in the
final files. Those ``.npy`` files are created when the run starts, and each worker writes its
records' windows straight into them at their own offsets: every byte is written once, by the
worker that computed it, and the parent never copies data. A record that fails after its
header was read leaves a hole, closed at the end by moving the later windows down (only when
something failed). The ``.npy`` header is then rewritten with the final count: numpy reserves
room for the first axis to grow, so the header's length, and where the data starts, do not
depend on the count.

**Resume.** After writing its windows a worker writes ``info.csv`` and ``summary.json`` into
``OUT/shards/shard_NNNNNN/`` and, last, a ``DONE`` file holding the run's fingerprint (hash of
the parameters, the shard size and the CSV content); ``OUT/RUNNING`` holds the fingerprint the
output files were created for. A rerun with the same fingerprint keeps every shard whose
``DONE`` matches and whose place in the files is unchanged, so an interrupted run loses at
most the shards in flight; any other rerun starts afresh. ``RUNNING`` is removed before holes
are closed (a run interrupted there starts afresh). ``df_info.csv`` is streamed from the
shards' files in order, the manifest is written last, and the shard folder removed
(``keep_shards`` keeps it).

**Memory** is one shard per worker, one copy buffer, a few thousand CSV rows and 8 bytes per
record (the id check of `scan_master`) in the parent: never the data set.

**Cluster.** With ``scheduler`` the same `run_shard` runs on Dask workers, which must see
``OUT`` and the records at the same paths (a shared file system); they write disjoint byte
ranges of the output files.

**Determinism.** Each record's bytes depend only on its row and the parameters, and their place
only on the CSV order and the headers, so 1 worker, N processes and a Dask cluster give
identical files.

**Failures.** A record that raises is logged, counted and listed in the manifest; the run goes
on. Records excluded on purpose (MIMIC rows with missing measurements) are counted by reason.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from hearteye.data.master import iter_master, scan_master
from hearteye.data.worker import (
    INFO_COLUMNS,
    N_LEADS,
    Excluded,
    PrepareParams,
    RecordOutput,
    planned_windows,
    process_record,
)
from hearteye.errors import HeartEyeError
from hearteye.parallel import run_tasks
from hearteye.record import STANDARD_LEADS
from hearteye.version import __version__

log = logging.getLogger("hearteye.data.prepare")

FORMAT_VERSION = 1
# Records per shard: the unit of resume and of bookkeeping (a DONE marker and two small files
# each); a worker holds one record at a time, so memory does not depend on it. Fixed (not
# derived from the data set size or the worker count) so that a resumed run with other
# parallelism finds the same shards. 16 LUDB records are ~0.1 s of work: an interruption
# loses little and the last shard leaves the other workers idle only briefly, while the
# parent's per-shard work stays ~3% of a worker's.
DEFAULT_SHARD_SIZE = 16
MAX_LISTED = 200  # failures / exclusions listed by name in the manifest (all are counted)
ARRAYS = ("X_data", "Y_data", "M_data", "Y_lead_data", "M_lead_data")
_FIELD = {
    "X_data": "x",
    "Y_data": "y",
    "M_data": "m",
    "Y_lead_data": "y_lead",
    "M_lead_data": "m_lead",
}  # RecordOutput attribute of each array
_COPY_BUFFER = 16 << 20
_CSV_ROWS = 4096  # CSV rows parsed at a time by the parent
_IN_FLIGHT = 2  # shards handed out per worker at a time: one running, one waiting


def _array_specs(n: int, size: int, per_lead: bool) -> dict[str, tuple[tuple, str]]:
    specs = {
        "X_data": ((n, size, N_LEADS), "float32"),
        "Y_data": ((n, size, 3), "uint8"),
        "M_data": ((n, size), "uint8"),
    }
    if per_lead:
        specs["Y_lead_data"] = ((n, size, N_LEADS, 3), "uint8")
        specs["M_lead_data"] = ((n, size, N_LEADS), "uint8")
    return specs


def _npy_header(shape: tuple, dtype: str) -> bytes:
    """The header `np.save` writes for this shape; its length does not depend on shape[0]."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf,
        {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
            "fortran_order": False,
            "shape": tuple(shape),
        },
    )
    return buf.getvalue()


def _row_bytes(shape: tuple, dtype: str) -> int:
    return math.prod(shape[1:]) * np.dtype(dtype).itemsize


# ------------------------------------------------------------------------------ worker side


def _process(
    row: dict, params: PrepareParams, planned: int, failures: list, excluded: list
) -> RecordOutput | None:
    """`process_record`, with a failure or exclusion noted instead of raised."""
    try:
        result = process_record(row, params)
        if len(result.info) != planned:  # the header disagrees with the signal files
            raise HeartEyeError(f"{len(result.info)} windows where the header promised {planned}")
        return result
    except Excluded as exc:
        excluded.append({"record": str(row["record"]), "reason": exc.reason})
    except Exception as exc:  # noqa: BLE001 - one bad record must not stop the run
        # Logged by the parent, which sees every shard's summary whatever ran it.
        failures.append({"record": str(row["record"]), "error": f"{type(exc).__name__}: {exc}"})
    return None


def run_shard(
    index: int,
    rows: list[dict],
    planned: list[int],
    first_window: int,
    params: PrepareParams,
    out_dir: str,
    fingerprint: str,
) -> dict:
    """Process one shard's records into the final files from window ``first_window`` on.

    ``planned[i]`` windows are reserved for ``rows[i]``. Returns the shard summary. Top-level
    and argument-only so that a process pool and a Dask worker can both run it.
    """
    out = Path(out_dir)
    shard = out / "shards" / f"shard_{index:06d}"
    shard.mkdir(parents=True, exist_ok=True)
    (shard / "DONE").unlink(missing_ok=True)
    specs = _array_specs(0, params.window_samples, params.per_lead)
    place = {
        name: (len(_npy_header(shape, dtype)), _row_bytes(shape, dtype), dtype)
        for name, (shape, dtype) in specs.items()
    }  # data offset, bytes per window
    failures, excluded, holes, info = [], [], [], []
    written = 0
    window = first_window
    files = {name: open(out / f"{name}.npy", "r+b") for name in specs}  # noqa: SIM115
    try:
        for row, n in zip(rows, planned, strict=True):
            result = _process(row, params, n, failures, excluded)
            if result is None:
                if n:
                    holes.append([window, n])
            elif n:
                for name, (offset, row_bytes, dtype) in place.items():
                    fh = files[name]
                    fh.seek(offset + window * row_bytes)
                    # The one copy of a window: the worker's (transposed) view, made
                    # contiguous, goes straight to the file. No fsync: the kernel keeps the
                    # data if the process is killed (what resume guards against).
                    fh.write(np.ascontiguousarray(getattr(result, _FIELD[name]), dtype=dtype))
                info.extend(result.info)
                written += 1
            window += n
    finally:
        for fh in files.values():
            fh.close()
    with open(shard / "info.csv", "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(INFO_COLUMNS)
        writer.writerows(info)
    summary = {
        "index": index,
        "records": len(rows),
        "first_window": first_window,
        "planned": sum(planned),
        "windows": len(info),
        "records_written": written,
        "holes": holes,
        "failures": failures,
        "excluded": excluded,
    }
    (shard / "summary.json").write_text(json.dumps(summary))
    (shard / "DONE").write_text(fingerprint)  # last: its presence means the shard is complete
    return summary


# ------------------------------------------------------------------------------ parent side


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _fingerprint(params: PrepareParams, shard_size: int, csv_sha256: str) -> str:
    h = hashlib.sha256()
    h.update(
        json.dumps(
            {"format": FORMAT_VERSION, "params": asdict(params), "shard_size": shard_size},
            sort_keys=True,
        ).encode()
    )
    h.update(bytes.fromhex(csv_sha256))
    return h.hexdigest()


def _done_summary(shard: Path, fingerprint: str) -> dict | None:
    marker = shard / "DONE"
    if marker.is_file() and marker.read_text() == fingerprint:
        return json.loads((shard / "summary.json").read_text())
    return None


def _rows(df: pd.DataFrame) -> list[dict]:
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _shards(csv_path: Path, shard_size: int) -> Iterator[pd.DataFrame]:
    """The CSV's rows in shards of ``shard_size``, read a few thousand rows at a time."""
    for chunk in iter_master(csv_path, shard_size * max(1, _CSV_ROWS // shard_size)):
        for start in range(0, len(chunk), shard_size):
            yield chunk.iloc[start : start + shard_size]


class _Tally:
    """The shards' summaries, kept small whatever the data set's size: counts of everything,
    by name the first ``MAX_LISTED`` failures and exclusions (CSV order), each shard's place."""

    def __init__(self, bar):
        self.bar = bar
        self.places: dict[int, tuple[int, int, int]] = {}  # shard -> first window, planned, written
        self.holes: list[list[int]] = []
        self.records_written = self.ran = self.kept = self.failed = 0
        self.failures: list[tuple] = []  # (shard, position, failure)
        self.excluded: Counter = Counter()
        self.excluded_records: list[tuple] = []

    def add(self, s: dict, ran: bool) -> None:
        self.places[s["index"]] = (s["first_window"], s["planned"], s["windows"])
        self.holes += s["holes"]
        self.records_written += s["records_written"]
        self.failed += len(s["failures"])
        for f in s["failures"]:
            log.warning("record %s failed: %s", f["record"], f["error"])
        self.failures = _first_listed(self.failures, s["index"], s["failures"])
        self.excluded.update(e["reason"] for e in s["excluded"])
        self.excluded_records = _first_listed(self.excluded_records, s["index"], s["excluded"])
        self.ran += ran
        self.kept += not ran
        self.bar.update(s["records"])


def _first_listed(listed: list[tuple], shard: int, items: list[dict]) -> list[tuple]:
    return sorted(listed + [(shard, i, item) for i, item in enumerate(items)])[:MAX_LISTED]


def _shard_tasks(
    csv_path: Path,
    shard_size: int,
    params: PrepareParams,
    out: Path,
    fingerprint: str,
    tally: _Tally,
) -> Iterator[tuple]:
    """Shard tasks in CSV order, each laid out just before it is handed out.

    Finished shards whose windows sit where this layout puts them go to the tally instead.
    """
    first = 0
    for index, shard in enumerate(_shards(csv_path, shard_size)):
        summary = _done_summary(out / "shards" / f"shard_{index:06d}", fingerprint)
        if summary is not None and summary["first_window"] == first:
            tally.add(summary, ran=False)
            first += summary["planned"]
            continue
        rows = _rows(shard)
        planned = [planned_windows(row, params) for row in rows]
        yield (index, rows, planned, first, params, str(out), fingerprint)
        first += sum(planned)


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="rec", disable=not sys.stderr.isatty(), file=sys.stderr)


def _start_files(out: Path, specs: dict, fingerprint: str) -> None:
    """Keep the output files of an interrupted run with this fingerprint, or create them
    empty, dropping any shards of another run."""
    running = out / "RUNNING"
    paths = [out / f"{name}.npy" for name in specs]
    if running.is_file() and running.read_text() == fingerprint and all(p.is_file() for p in paths):
        return
    running.unlink(missing_ok=True)
    shutil.rmtree(out / "shards", ignore_errors=True)
    for name in ARRAYS:
        (out / f"{name}.npy").unlink(missing_ok=True)
    for path, (shape, dtype) in zip(paths, specs.values(), strict=True):
        path.write_bytes(_npy_header(shape, dtype))  # count 0 until the end; data appended
    running.write_text(fingerprint)


def _move(fh, src: int, dst: int, nbytes: int) -> None:
    """Copy ``nbytes`` from ``src`` down to ``dst`` < ``src`` within one file, in chunks."""
    while nbytes > 0:
        fh.seek(src)
        chunk = fh.read(min(nbytes, _COPY_BUFFER))
        if not chunk:
            raise HeartEyeError(f"{fh.name} ends before its last window")
        fh.seek(dst)
        fh.write(chunk)
        src, dst, nbytes = src + len(chunk), dst + len(chunk), nbytes - len(chunk)


def _finish_arrays(out: Path, specs: dict, tally: _Tally) -> int:
    """Close the failed records' holes, then write the final count into each header."""
    reserved = max((first + planned for first, planned, _ in tally.places.values()), default=0)
    holes = sorted(tally.holes) + [[reserved, 0]]
    n = reserved - sum(count for _, count in holes)
    (out / "RUNNING").unlink()  # the files change in place from here: no resume past this
    for name, (shape, dtype) in specs.items():
        row = _row_bytes(shape, dtype)
        header = _npy_header((n, *shape[1:]), dtype)
        offset = len(_npy_header(shape, dtype))
        assert len(header) == offset, "numpy no longer pads .npy headers for growth"
        with open(out / f"{name}.npy", "r+b") as fh:
            dst = holes[0][0]
            for (start, count), (nxt, _) in pairwise(holes):
                src = start + count  # the kept windows between this hole and the next
                if dst != src:
                    _move(fh, offset + src * row, offset + dst * row, (nxt - src) * row)
                dst += nxt - src
            fh.seek(0)
            fh.write(header)
            fh.truncate(offset + n * row)
    return n


def _write_info(out: Path, tally: _Tally) -> int:
    """Stream the shards' window rows, in order, into ``df_info.csv``; returns the count."""
    n = 0
    with open(out / "df_info.csv", "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("row", *INFO_COLUMNS))
        for index in sorted(tally.places):
            if not tally.places[index][2]:
                continue
            with open(out / "shards" / f"shard_{index:06d}" / "info.csv", newline="") as src:
                reader = csv.reader(src)
                next(reader)
                for line in reader:
                    writer.writerow((n, *line))
                    n += 1
    return n


def prepare_split(
    csv_path: str | Path,
    out: str | Path,
    params: PrepareParams | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    shard_size: int | None = None,
    keep_shards: bool = False,
) -> dict:
    """Prepare one split CSV into ``out``; returns the manifest (see the module docstring)."""
    started = time.perf_counter()
    csv_path, out = Path(csv_path), Path(out)
    # The CSV is streamed, never held: one pass for its size, the mask sources and unique
    # ids, then shard by shard while the workers run.
    n_rows, mask_sources = scan_master(csv_path)
    csv_sha256 = _sha256(csv_path)
    params = params or PrepareParams()
    params = replace(params, per_lead=params.per_lead and "ludb" in mask_sources)
    shard_size = shard_size or DEFAULT_SHARD_SIZE
    if shard_size < 1:
        raise HeartEyeError("shard size must be at least 1")
    workers = workers or os.cpu_count() or 1
    fingerprint = _fingerprint(params, shard_size, csv_sha256)
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if old.get("fingerprint") == fingerprint and old.get("complete"):
            log.info("%s is already prepared with these parameters; nothing to do", out)
            return old
        manifest_path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    specs = _array_specs(0, params.window_samples, params.per_lead)
    _start_files(out, specs, fingerprint)

    with _progress(n_rows) as bar:
        tally = _Tally(bar)
        tasks = _shard_tasks(csv_path, shard_size, params, out, fingerprint, tally)
        for _, summary in run_tasks(
            run_shard, tasks, workers=workers, scheduler=scheduler, in_flight=_IN_FLIGHT
        ):
            tally.add(summary, ran=True)
    n = _finish_arrays(out, specs, tally)
    if _write_info(out, tally) != n:
        raise HeartEyeError("df_info.csv and the arrays disagree on the window count")

    manifest = {
        "complete": True,
        "fingerprint": fingerprint,
        "hearteye_version": __version__,
        "format_version": FORMAT_VERSION,
        "input_csv": str(csv_path.resolve()),
        "input_sha256": csv_sha256,
        "params": asdict(params),
        "shard_size": shard_size,
        "mask_channels": ["P", "QRS", "QT"],
        "lead_order": list(STANDARD_LEADS),
        "arrays": {
            name: {"shape": list(shape), "dtype": dtype}
            for name, (shape, dtype) in _array_specs(
                n, params.window_samples, params.per_lead
            ).items()
        },
        "records": n_rows,
        "records_written": tally.records_written,
        "windows": n,
        "failed": tally.failed,
        "failures": [f for *_, f in tally.failures],
        "excluded": dict(sorted(tally.excluded.items())),
        "excluded_records": [e for *_, e in tally.excluded_records],
        # How this run went; the only part that differs between equivalent runs.
        "run": {
            "workers": None if scheduler else workers,
            "scheduler": scheduler,
            "shards": len(tally.places),
            "shards_run": tally.ran,
            "shards_skipped": tally.kept,
            "seconds": round(time.perf_counter() - started, 3),
        },
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    if not keep_shards:
        shutil.rmtree(out / "shards", ignore_errors=True)
    return manifest


def split_name(csv_path: Path) -> str:
    """``train_records.csv`` -> ``train``; other names keep their stem."""
    return csv_path.stem.removesuffix("_records")


def prepare(csv_paths: list[str | Path], out_root: str | Path, **kwargs) -> dict[str, dict]:
    """Prepare several split CSVs into ``out_root/<split>/``; returns the manifests."""
    return {
        split_name(Path(p)): prepare_split(p, Path(out_root) / split_name(Path(p)), **kwargs)
        for p in csv_paths
    }
