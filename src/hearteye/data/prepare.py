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

**Sharding and resume.** Records are cut, in CSV order, into shards of ``shard_size`` records
(default: ``DEFAULT_SHARD_SIZE``). A shard is processed by one worker, which writes its arrays (via
``open_memmap``) and ``info.csv`` / ``summary.json`` into ``OUT/shards/shard_NNNNNN/`` and
then, last, a ``DONE`` file holding the run's fingerprint (hash of the parameters, the shard
size and the CSV content). A rerun skips every shard whose ``DONE`` matches, so an interrupted
run loses at most the shards in flight. When all shards are done they are copied, in shard
order, into the final pre-sized memory-mapped ``.npy`` files; the manifest is written last and
the shard folder removed (``keep_shards`` keeps it). Memory is bounded by one shard per worker
plus one shard's slice of the output map: never by the data set. The cost is writing the data
twice; a pre-sized map written in place would need each record's window count before reading
it.

**Determinism.** Each record's bytes depend only on its row and the parameters, and the final
order is the CSV order, so 1 worker, N processes and a Dask cluster give identical files.

**Failures.** A record that raises is logged, counted and listed in the manifest; the run goes
on. Records excluded on purpose (MIMIC rows with missing measurements) are counted by reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from hearteye import __version__
from hearteye.data.master import read_master
from hearteye.data.worker import N_LEADS, Excluded, PrepareParams, process_record
from hearteye.errors import HeartEyeError
from hearteye.record import STANDARD_LEADS

log = logging.getLogger("hearteye.data.prepare")

FORMAT_VERSION = 1
# Records per shard. Fixed (not derived from the data set size or the worker count) so that
# peak memory does not grow with the data set and a resumed run with other parallelism finds
# the same shards. 16 LUDB records are ~8 MB of output: small enough for many workers, large
# enough that per-shard bookkeeping stays ~1% of the work.
DEFAULT_SHARD_SIZE = 16
MAX_LISTED = 200  # failures / exclusions listed by name in the manifest (all are counted)
ARRAYS = ("X_data", "Y_data", "M_data", "Y_lead_data", "M_lead_data")


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


def _new_npy(path: Path, shape: tuple, dtype: str):
    """A pre-sized ``.npy`` opened as a memory map (numpy cannot map a zero-length file)."""
    if 0 in shape:
        np.save(path, np.zeros(shape, dtype=dtype))
        return None
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def run_shard(index: int, rows: list[dict], params: PrepareParams, shard_dir: str,
              fingerprint: str) -> dict:
    """Process one shard's records and write its files; returns the shard summary.

    Top-level and argument-only so that a process pool and a Dask worker can both run it.
    """
    out = Path(shard_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "DONE").unlink(missing_ok=True)
    results, failures, excluded = [], [], []
    for row in rows:
        try:
            results.append(process_record(row, params))
        except Excluded as exc:
            excluded.append({"record": str(row["record"]), "reason": exc.reason})
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the run
            # Logged by the parent, which sees every shard's summary whatever ran it.
            failures.append({"record": str(row["record"]),
                             "error": f"{type(exc).__name__}: {exc}"})
    n = sum(len(r.info) for r in results)
    size = params.window_samples
    for name, (shape, dtype) in _array_specs(n, size, params.per_lead).items():
        key = {"X_data": "x", "Y_data": "y", "M_data": "m", "Y_lead_data": "y_lead",
               "M_lead_data": "m_lead"}[name]
        # One shard (the batch) is held in memory and written with plain sequential writes:
        # cheaper than faulting the pages of a memory map in one by one. No fsync: the kernel
        # keeps the data if the process is killed (what resume guards against).
        parts = [getattr(r, key) for r in results]
        arr = np.concatenate(parts) if parts else np.zeros(shape, dtype=dtype)
        np.save(out / f"{name}.npy", np.ascontiguousarray(arr, dtype=dtype))
    info = pd.DataFrame([row for r in results for row in r.info])
    info.to_csv(out / "info.csv", index=False)
    summary = {"index": index, "records": len(rows), "windows": n,
               "failures": failures, "excluded": excluded}
    (out / "summary.json").write_text(json.dumps(summary))
    (out / "DONE").write_text(fingerprint)  # last: its presence means the shard is complete
    return summary


def _fingerprint(params: PrepareParams, shard_size: int, csv_bytes: bytes) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, "params": asdict(params),
                         "shard_size": shard_size}, sort_keys=True).encode())
    h.update(hashlib.sha256(csv_bytes).digest())
    return h.hexdigest()


def _shard_done(shard_dir: Path, fingerprint: str) -> bool:
    marker = shard_dir / "DONE"
    return marker.is_file() and marker.read_text() == fingerprint


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="rec", disable=not sys.stderr.isatty(), file=sys.stderr)


def _run_local(tasks: list[tuple], workers: int, bar) -> list[dict]:
    if workers <= 1:
        out = []
        for t in tasks:
            out.append(run_shard(*t))
            bar.update(len(t[1]))
        return out
    # fork: workers start at once with the pipeline already imported, and the caller's main
    # module is not re-run (spawn/forkserver would re-import an unguarded script).
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    results = []
    pending = iter(tasks)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        running = set()
        # Bounded in-flight submissions: the parent never queues the whole data set.
        for t in pending:
            running.add(pool.submit(run_shard, *t))
            if len(running) >= 2 * workers:
                break
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                summary = fut.result()
                results.append(summary)
                bar.update(summary["records"])
                nxt = next(pending, None)
                if nxt is not None:
                    running.add(pool.submit(run_shard, *nxt))
    return results


def _run_dask(tasks: list[tuple], scheduler: str, bar) -> list[dict]:
    from distributed import Client, as_completed

    results = []
    with Client(scheduler) as client:
        futures = [client.submit(run_shard, *t, pure=False) for t in tasks]
        for fut in as_completed(futures):
            summary = fut.result()
            results.append(summary)
            bar.update(summary["records"])
            fut.release()
    return results


def _data_offset(path: Path) -> int:
    """Where the array data of a ``.npy`` file starts (after its header)."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}[version]
        read_header(fh)
        return fh.tell()


def _concatenate(out: Path, shard_dirs: list[Path], summaries: list[dict],
                 params: PrepareParams) -> pd.DataFrame:
    """Copy the shards, in order, into the final memory-mapped files, one shard at a time."""
    n = sum(s["windows"] for s in summaries)
    specs = _array_specs(n, params.window_samples, params.per_lead)
    for name in ARRAYS:
        (out / f"{name}.npy").unlink(missing_ok=True)
    for name, (shape, dtype) in specs.items():
        arr = _new_npy(out / f"{name}.npy", shape, dtype)
        if arr is not None:
            del arr  # reopened per shard below, so resident pages never add up
    # The final files are pre-sized memory maps (above); each shard's data bytes are then
    # appended in order with buffered sequential copies (kernel to kernel where possible),
    # so memory stays at one copy buffer whatever the data set's size.
    dests = {name: open(out / f"{name}.npy", "r+b") for name in specs}  # noqa: SIM115
    try:
        for name, fh in dests.items():
            fh.seek(_data_offset(out / f"{name}.npy"))
        infos = []
        for shard_dir, summary in zip(shard_dirs, summaries, strict=True):
            if not summary["windows"]:
                continue
            for name, fh in dests.items():
                src = shard_dir / f"{name}.npy"
                with open(src, "rb") as part:
                    part.seek(_data_offset(src))
                    shutil.copyfileobj(part, fh, 16 << 20)
            infos.append(pd.read_csv(shard_dir / "info.csv", dtype={"record": str,
                                                                   "patient": str}))
    finally:
        for fh in dests.values():
            fh.close()
    info = pd.concat(infos, ignore_index=True) if infos else pd.DataFrame()
    info.insert(0, "row", np.arange(len(info)))
    return info


def prepare_split(csv_path: str | Path, out: str | Path, params: PrepareParams | None = None,
                  workers: int | None = None, scheduler: str | None = None,
                  shard_size: int | None = None, keep_shards: bool = False) -> dict:
    """Prepare one split CSV into ``out``; returns the manifest (see the module docstring)."""
    started = time.perf_counter()
    csv_path, out = Path(csv_path), Path(out)
    csv_bytes = csv_path.read_bytes()
    df = read_master(csv_path)
    params = params or PrepareParams()
    params = replace(params, per_lead=params.per_lead and bool(
        (df["mask_source"] == "ludb").any()))
    shard_size = shard_size or DEFAULT_SHARD_SIZE
    if shard_size < 1:
        raise HeartEyeError("shard size must be at least 1")
    workers = workers or os.cpu_count() or 1
    fingerprint = _fingerprint(params, shard_size, csv_bytes)
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if old.get("fingerprint") == fingerprint and old.get("complete"):
            log.info("%s is already prepared with these parameters; nothing to do", out)
            return old
        manifest_path.unlink()
    out.mkdir(parents=True, exist_ok=True)

    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    shards_root = out / "shards"
    shard_dirs, tasks, skipped = [], [], []
    for i, start in enumerate(range(0, len(rows), shard_size)):
        d = shards_root / f"shard_{i:06d}"
        shard_dirs.append(d)
        if _shard_done(d, fingerprint):
            skipped.append(json.loads((d / "summary.json").read_text()))
        else:
            tasks.append((i, rows[start : start + shard_size], params, str(d), fingerprint))

    with _progress(len(rows)) as bar:
        bar.update(sum(s["records"] for s in skipped))
        if scheduler:
            ran = _run_dask(tasks, scheduler, bar)
        else:
            ran = _run_local(tasks, workers, bar)
    summaries = sorted(skipped + ran, key=lambda s: s["index"])
    info = _concatenate(out, shard_dirs, summaries, params)
    info.to_csv(out / "df_info.csv", index=False)

    failures = [f for s in summaries for f in s["failures"]]
    excluded = [e for s in summaries for e in s["excluded"]]
    for f in failures:
        log.warning("record %s failed: %s", f["record"], f["error"])
    n = len(info)
    manifest = {
        "complete": True,
        "fingerprint": fingerprint,
        "hearteye_version": __version__,
        "format_version": FORMAT_VERSION,
        "input_csv": str(csv_path.resolve()),
        "input_sha256": hashlib.sha256(csv_bytes).hexdigest(),
        "params": asdict(params),
        "shard_size": shard_size,
        "mask_channels": ["P", "QRS", "QT"],
        "lead_order": list(STANDARD_LEADS),
        "arrays": {name: {"shape": list(shape), "dtype": dtype} for name, (shape, dtype)
                   in _array_specs(n, params.window_samples, params.per_lead).items()},
        "records": len(rows),
        "records_written": int(info["record"].nunique()) if n else 0,
        "windows": n,
        "failed": len(failures),
        "failures": failures[:MAX_LISTED],
        "excluded": dict(Counter(e["reason"] for e in excluded)),
        "excluded_records": excluded[:MAX_LISTED],
        # How this run went; the only part that differs between equivalent runs.
        "run": {"workers": None if scheduler else workers, "scheduler": scheduler,
                "shards": len(shard_dirs), "shards_run": len(ran),
                "shards_skipped": len(skipped),
                "seconds": round(time.perf_counter() - started, 3)},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    if not keep_shards:
        shutil.rmtree(shards_root, ignore_errors=True)
    return manifest


def split_name(csv_path: Path) -> str:
    """``train_records.csv`` -> ``train``; other names keep their stem."""
    return csv_path.stem.removesuffix("_records")


def prepare(csv_paths: list[str | Path], out_root: str | Path, **kwargs) -> dict[str, dict]:
    """Prepare several split CSVs into ``out_root/<split>/``; returns the manifests."""
    return {split_name(Path(p)): prepare_split(p, Path(out_root) / split_name(Path(p)),
                                               **kwargs)
            for p in csv_paths}
