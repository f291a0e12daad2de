"""Analyse whole ECG archives: many files in, one row per record out (Parquet and/or JSONL).

    hearteye analyze ARCHIVE/ more/*.hea manifest.csv --out results.parquet --jsonl results.jsonl

The same `hearteye.analyze.analyze` core as the CLI and the API, run over records found in
files, folders (recursively), glob patterns and manifest CSVs (a ``path`` column, relative to
the CSV's folder).

Rules, and why:
* **One row per record, failures included.** A record that cannot be read or analysed gets a
  row with ``status = "error"`` and the error's stable ``error_code`` and message; the run goes
  on. An unexpected fault is a row too (``internal_error``, the exception's type only: no
  traceback or file content in the table; the log has the detail).
* **Identity is content.** ``content_hash`` is the SHA-256 over the files that make up the
  record (a WFDB header and its signal files; otherwise the file itself). It comes first in
  every row, so a resumed run finds the records it already has without parsing JSON.
* **Resumable.** Rows are written in shards (``SHARD_SIZE`` consecutive records) to part
  files in a work folder (default ``OUT.parts/``) named by the shard's content and the
  run's fingerprint (HeartEye and model versions, options), each written whole or not at all.
  A rerun reuses every part it finds, and inside a new shard every record whose content hash
  an earlier part holds: an interrupted run loses at most the shards in flight, and a record
  moved or copied elsewhere in the archive is not analysed twice. The fingerprint changes with
  the models, so a retrained model re-analyses everything.
* **Deterministic.** A row depends only on the record and the options, and the output order is
  the discovery order (sorted walk), so 1 worker, N workers and a Dask cluster write identical
  bytes.
* **Bounded memory.** Workers hold one record at a time (long records are cut to
  ``max_seconds``, 300 s by default as in the service, and an ``excerpt`` flag says so); the
  parent holds the shards in flight, one row group of the Parquet writer, and an index of
  records already analysed (~100 bytes each). Discovery walks folders lazily.
* **Parallel.** Local processes by default (one per core), forked after the models are
  loaded, so each worker starts with them in memory; ``scheduler`` runs the same shards on a
  Dask cluster, whose workers must see the same paths (a shared file system).
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from hearteye.analyze import load_models
from hearteye.errors import HeartEyeError
from hearteye.features import GLOBAL_MEASUREMENTS, MEASUREMENT_UNITS
from hearteye.io import record_files
from hearteye.io.registry import record_suffixes
from hearteye.parallel import default_workers, run_ordered
from hearteye.version import __version__

log = logging.getLogger("hearteye.batch")

SHARD_SIZE = 32  # records per part file: the unit of resume (~1.5 s of work on one core)
ROW_GROUP_ROWS = 8192  # Parquet row group size: bounds the writer's memory
# Files that name a record when a folder is walked, from the format table. WFDB signal files
# (.dat, .mat) are not records on their own: their header is. A named file is always tried.
RECORD_SUFFIXES = record_suffixes()
_HASH_PREFIX = '{"content_hash": "'


@dataclass(frozen=True)
class BatchOptions:
    """What decides a row besides the record (part of the run's fingerprint)."""

    model: str | None = None  # classifier: None = the shipped default
    notch_hz: float | None = 50.0
    max_seconds: float | None = 300.0


# --------------------------------------------------------------------------- discovery


def discover(inputs: Iterable[str | Path]) -> Iterator[str]:
    """Record paths, in a stable order: each input in turn; folders walked recursively in
    sorted order, taking files with a record suffix; glob patterns sorted; a ``.csv`` manifest
    row by row (its ``path`` column, relative to the manifest's folder)."""
    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            yield from _walk(path)
        elif path.suffix.lower() == ".csv" and path.is_file():
            yield from _manifest(path)
        elif glob.has_magic(text):
            for match in sorted(glob.glob(text, recursive=True)):
                yield from _walk(Path(match)) if Path(match).is_dir() else [match]
        else:
            yield text


def _walk(folder: Path) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(RECORD_SUFFIXES) and not name.startswith("."):
                yield os.path.join(root, name)


def _manifest(csv_path: Path) -> Iterator[str]:
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if "path" not in (reader.fieldnames or []):
            raise HeartEyeError(
                f"{csv_path.name}: a manifest needs a 'path' column (one record per row)",
                code="invalid_manifest",
            )
        for row in reader:
            if row["path"]:
                yield str(csv_path.parent / row["path"])


# --------------------------------------------------------------------------- identity


def content_hash(path: str) -> str:
    """SHA-256 over the record's files (length-prefixed digests, in a fixed order)."""
    outer = hashlib.sha256()
    for f in record_files(path):
        with f.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").digest()
        outer.update(f.stat().st_size.to_bytes(8, "little") + digest)
    return outer.hexdigest()


def _identify(path: str) -> tuple[str, str | None, HeartEyeError | None]:
    try:
        return path, content_hash(path), None
    except HeartEyeError as err:
        return path, None, err
    except OSError as err:
        return (
            path,
            None,
            HeartEyeError(f"cannot read {Path(path).name}: {err.strerror}", code="file_unreadable"),
        )


# --------------------------------------------------------------------------- rows


def columns() -> list[str]:
    """The table's columns, in order (`rows` always have exactly these keys)."""
    return [
        "content_hash",
        "path",
        "status",
        "error_code",
        "error_message",
        "record_name",
        "original_fs",
        "n_leads",
        "duration_s",
        "recording_duration_s",
        "analysed_seconds",
        "age",
        "sex",
        "classification",
        "probability_abnormal",
        "classifier",
        "delineator",
        "quality",
        *GLOBAL_MEASUREMENTS,
    ]


def _blank(path: str, digest: str | None) -> dict:
    row = dict.fromkeys(columns())
    row.update(content_hash=digest or "", path=path, quality=[])
    return row


def error_row(path: str, digest: str | None, err: HeartEyeError) -> dict:
    row = _blank(path, digest)
    row.update(status="error", error_code=err.code, error_message=err.message)
    return row


def analysis_row(path: str, digest: str, analysis) -> dict:
    """The row of one analysed record: identity, verdict, flags and global measurements."""
    rec = analysis.record
    row = _blank(path, digest)
    row.update(
        status="ok",
        record_name=rec.get("record_name"),
        original_fs=rec.get("original_fs"),
        n_leads=rec.get("n_leads"),
        duration_s=rec.get("duration_s"),
        recording_duration_s=rec.get("recording_duration_s"),
        analysed_seconds=analysis.analysed_seconds,
        age=rec.get("age"),
        sex=rec.get("sex"),
        classification=analysis.classification,
        probability_abnormal=analysis.probability_abnormal,
        classifier=analysis.model,
        delineator=analysis.delineator,
        quality=[_flag_text(f) for f in analysis.quality],
    )
    glob_m = analysis.measurements["global"]
    for name in GLOBAL_MEASUREMENTS:
        value = glob_m[name]["value"] if name in glob_m else None
        row[name] = None if value is None else float(value)
    return row


def _flag_text(flag: dict) -> str:
    return flag["code"] if flag.get("lead") is None else f"{flag['code']}:{flag['lead']}"


def analyze_path(path: str, digest: str, options: BatchOptions) -> dict:
    """Read and analyse one record into its row; a failure is a row, never an exception."""
    from hearteye.analyze import analyze
    from hearteye.io import ReadLimits, read_record

    try:
        record = read_record(path, ReadLimits(max_seconds=options.max_seconds))
        result = analyze(
            record, model=options.model, notch_hz=options.notch_hz, max_seconds=options.max_seconds
        )
        return analysis_row(path, digest, result)
    except HeartEyeError as err:
        return error_row(path, digest, err)
    except Exception as err:  # a fault of ours: one row, the run goes on; the log has it
        log.exception("analysis failed for record #%s", digest[:12])
        return error_row(
            path,
            digest,
            HeartEyeError(f"internal error ({type(err).__name__})", code="internal_error"),
        )


def _dump(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, allow_nan=False)


# --------------------------------------------------------------------------- shards


def fingerprint(options: BatchOptions) -> str:
    """Hash of everything besides the record that decides a row."""
    from hearteye.classify import get_classifier
    from hearteye.delineate.runtime import get_delineator

    parts = {
        "hearteye": __version__,
        "delineator": get_delineator().version,
        "classifier": get_classifier().spec,
        "options": asdict(options),
        "columns": columns(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def run_shard(
    index: int, items: list[tuple], options: BatchOptions, part: str | None, cached: dict
) -> list[str]:
    """Rows (JSON lines) of one shard, in order; written to ``part`` (atomically) when given,
    or read back from it when an earlier run finished it.

    ``items``: (path, content hash or None, identification error or None); ``cached``:
    content hash -> an earlier row's JSON line for records analysed before.
    """
    if part is not None and os.path.isfile(part):  # finished by an earlier run
        with open(part, encoding="utf-8") as fh:
            return fh.read().splitlines()
    lines = []
    for path, digest, err in items:
        if err is not None:
            lines.append(_dump(error_row(path, digest, err)))
        elif digest in cached:
            row = json.loads(cached[digest])
            row["path"] = path
            lines.append(_dump(row))
        else:
            lines.append(_dump(analyze_path(path, digest, options)))
    if part is not None:
        tmp = f"{part}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)
        os.replace(tmp, part)
    return lines


class _Store:
    """The work folder: finished parts, and where each analysed record's row is."""

    def __init__(self, folder: Path, print_: str):
        self.dir = folder / print_
        self.dir.mkdir(parents=True, exist_ok=True)
        self.index: dict[bytes, tuple[str, int]] = {}
        for part in sorted(self.dir.glob("part-*.jsonl")):
            self._index(part)
        self.used: set[str] = set()

    def _index(self, part: Path) -> None:
        with part.open("rb") as fh:
            offset = 0
            for line in fh:
                if line.startswith(_HASH_PREFIX.encode()) and line[18:82].isalnum():
                    self.index.setdefault(bytes.fromhex(line[18:82].decode()), (part.name, offset))
                offset += len(line)

    def part_name(self, items: list[tuple]) -> str:
        h = hashlib.sha256()
        for path, digest, err in items:
            h.update(f"{path}\0{digest}\0{err.code if err else ''}\n".encode())
        return f"part-{h.hexdigest()[:24]}.jsonl"

    def cached_rows(self, items: list[tuple]) -> dict[str, str]:
        out = {}
        for _, digest, err in items:
            if err is None and digest and bytes.fromhex(digest) in self.index:
                name, offset = self.index[bytes.fromhex(digest)]
                with (self.dir / name).open("rb") as fh:
                    fh.seek(offset)
                    out[digest] = fh.readline().decode().rstrip("\n")
        return out

    def forget_unused(self) -> None:
        """Remove parts this run did not use, and folders of other fingerprints."""
        for part in self.dir.glob("part-*.jsonl*"):
            if part.name not in self.used:
                part.unlink()
        for other in self.dir.parent.iterdir():
            if other != self.dir and other.is_dir():
                shutil.rmtree(other)


# --------------------------------------------------------------------------- runs


def _shards(paths: Iterator[str], size: int) -> Iterator[list[tuple]]:
    shard: list[tuple] = []
    for path in paths:
        shard.append(_identify(path))
        if len(shard) == size:
            yield shard
            shard = []
    if shard:
        yield shard


def analyze_many(
    inputs: Iterable[str | Path],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    options: BatchOptions = BatchOptions(),
    work_dir: str | Path | None = None,
    progress=None,
    shard_size: int = SHARD_SIZE,
) -> Iterator[dict]:
    """Rows (dicts with the keys of `columns`) for every record the inputs name, in order.

    ``work_dir``: keep finished shards there and reuse them (resume); ``progress``: called
    with the number of rows each shard adds.
    """
    run = _run(inputs, workers, scheduler, options, work_dir, progress, shard_size)
    for lines in run:
        for line in lines:
            yield json.loads(line)


def _run(inputs, workers, scheduler, options, work_dir, progress, shard_size: int):
    load_models(options.model)  # once, before forking: every worker starts with them
    store = _Store(Path(work_dir), fingerprint(options)) if work_dir is not None else None
    done = 0

    def tasks():
        for index, items in enumerate(_shards(discover(inputs), shard_size)):
            if store is None:
                yield (index, items, options, None, {})
                continue
            name = store.part_name(items)
            store.used.add(name)
            part = store.dir / name
            cached = {} if part.is_file() else store.cached_rows(items)
            yield (index, items, options, str(part), cached)

    for lines in run_ordered(
        run_shard, tasks(), workers=workers or default_workers(), scheduler=scheduler
    ):
        done += len(lines)
        if progress is not None:
            progress(len(lines))
        yield lines
    if store is not None:
        store.forget_unused()
    log.info("analysed %d records", done)


def count_records(inputs: Iterable[str | Path]) -> int:
    """How many records the inputs name (a cheap walk, for the progress bar)."""
    return sum(1 for _ in discover(inputs))


def run_batch(
    inputs: list[str],
    *,
    out: str | Path | None = None,
    jsonl: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    options: BatchOptions = BatchOptions(),
    work_dir: str | Path | None = None,
    show_progress: bool = True,
    shard_size: int = SHARD_SIZE,
) -> dict:
    """Analyse everything ``inputs`` names into ``out`` (Parquet) and/or ``jsonl``; resumable
    through ``work_dir`` (default: next to the first output, ``<name>.parts``). Returns counts."""
    if out is None and jsonl is None:
        raise HeartEyeError(
            "name an output: --out results.parquet and/or --jsonl results.jsonl", code="no_output"
        )
    first = Path(out or jsonl)
    work = Path(work_dir) if work_dir is not None else first.with_name(first.name + ".parts")
    from tqdm import tqdm

    total = count_records(inputs)
    counts = {"records": 0, "ok": 0, "error": 0}
    load_models(options.model)  # before the clock: the run's time is the records' time
    started = time.perf_counter()
    with (
        tqdm(
            total=total,
            unit="rec",
            file=sys.stderr,
            disable=not show_progress,
            mininterval=1.0 if sys.stderr.isatty() else 30.0,
        ) as bar,
        _Writers(out, jsonl) as w,
    ):
        run = _run(inputs, workers, scheduler, options, work, bar.update, shard_size)
        for lines in run:
            w.write(lines)
            for line in lines:
                counts["records"] += 1
                counts["ok" if '"status": "ok"' in line else "error"] += 1
    counts["seconds"] = round(time.perf_counter() - started, 3)
    return counts


class _Writers:
    """The output files, written to temporary names and moved into place at the end (an
    interrupted run leaves no half-written table behind, only its parts)."""

    def __init__(self, out, jsonl):
        self.out = None if out is None else Path(out)
        self.jsonl = None if jsonl is None else Path(jsonl)
        self._json_fh = None
        self._pq = None
        self._buffer: list[dict] = []

    def __enter__(self):
        if self.jsonl is not None:
            self.jsonl.parent.mkdir(parents=True, exist_ok=True)
            self._json_fh = open(self._tmp(self.jsonl), "w", encoding="utf-8")  # noqa: SIM115
        if self.out is not None:
            import pyarrow.parquet as pq

            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._pq = pq.ParquetWriter(self._tmp(self.out), parquet_schema())
        return self

    @staticmethod
    def _tmp(path: Path) -> Path:
        return path.with_name(path.name + ".partial")

    def write(self, lines: list[str]) -> None:
        if self._json_fh is not None:
            self._json_fh.writelines(line + "\n" for line in lines)
        if self._pq is not None:
            self._buffer.extend(json.loads(line) for line in lines)
            if len(self._buffer) >= ROW_GROUP_ROWS:
                self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._buffer:
            self._pq.write_table(pa.Table.from_pylist(self._buffer, schema=parquet_schema()))
            self._buffer = []

    def __exit__(self, exc_type, *_):
        if self._pq is not None:
            if exc_type is None:
                self._flush()
            self._pq.close()
        if self._json_fh is not None:
            self._json_fh.close()
        for path in (self.out, self.jsonl):
            if path is not None and exc_type is None:
                os.replace(self._tmp(path), path)
        return False


def parquet_schema():
    """Column types; each measurement column carries its unit in the field metadata."""
    import pyarrow as pa

    text = {
        "content_hash",
        "path",
        "status",
        "error_code",
        "error_message",
        "record_name",
        "sex",
        "classification",
        "classifier",
        "delineator",
    }
    fields = []
    for name in columns():
        if name in text:
            fields.append(pa.field(name, pa.string()))
        elif name == "quality":
            fields.append(pa.field(name, pa.list_(pa.string())))
        elif name == "n_leads":
            fields.append(pa.field(name, pa.int32()))
        else:
            unit = MEASUREMENT_UNITS.get(name)
            meta = {"unit": unit} if unit else None
            fields.append(pa.field(name, pa.float64(), metadata=meta))
    return pa.schema(fields, metadata={"hearteye": __version__})
