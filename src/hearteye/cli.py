"""The `hearteye` command. Each subcommand is a thin wrapper over a library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hearteye.data import DATASETS
from hearteye.errors import HeartEyeError
from hearteye.jsonutil import json_safe
from hearteye.version import __version__


def _training(module: str):
    """Import a module of the training toolchain, or stop with one line saying which extra
    installs it (scikit-learn, xgboost and torch come with ``hearteye[train]``, not with the
    service), instead of a traceback."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise click.ClickException(
            f"{exc}; this command needs the training extra: pip install 'hearteye[train]'"
        ) from exc


@click.group()
@click.version_option(__version__, prog_name="hearteye")
def main() -> None:
    """HeartEye: read, clean, delineate and classify resting ECGs."""


def fail(err: HeartEyeError) -> None:
    """Print a typed error as one line (or JSON) and exit 2, the usage-error status."""
    click.echo(f"error [{err.code}]: {err.message}", err=True)
    sys.exit(2)


def echo_json(obj) -> None:
    """``obj`` as indented JSON, converted as the API converts it (`hearteye.jsonutil`)."""
    click.echo(json.dumps(json_safe(obj), indent=2, allow_nan=False))


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(path: str, as_json: bool) -> None:
    """Show what was read from PATH (any format HeartEye reads, or a .zip holding one
    record): format, rate, leads, samples, duration, units, lead ranges and quality flags."""
    from hearteye.io import read_record
    from hearteye.io.describe import describe_record, format_description

    try:
        record = read_record(path)
    except HeartEyeError as err:
        fail(err)
    desc = describe_record(record)
    desc["quality"] = _quality_flags(record)
    echo_json(desc) if as_json else click.echo(format_description(desc))


def _quality_flags(record) -> list[dict]:
    # Imported here: quality pulls in scipy filtering, which `hearteye --help` need not load.
    from hearteye.quality import assess

    return [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in assess(record)]


@main.command()
@click.option(
    "--dataset",
    type=click.Choice(list(DATASETS)),
    help="Build the master table from this data set's own layout under --root.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True),
    help="Data set folder (LUDB: with data/ and ludb.csv; MIMIC-IV-ECG: with "
    "record_list.csv and machine_measurements.csv; PTB-XL: with "
    "ptbxl_database.csv or labels.csv; challenge: a tree of PhysioNet Challenge .hea/.mat).",
)
@click.option(
    "--master",
    "master_csv",
    type=click.Path(dir_okay=False, exists=True),
    help="Split an existing master CSV instead (columns: see hearteye.data.master).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for master.csv, {train,val,test}_records.csv, split_report.json.",
)
@click.option("--val", default=0.1, show_default=True, help="Fraction of patients for val.")
@click.option("--test", default=0.1, show_default=True, help="Fraction of patients for test.")
@click.option("--seed", default=0, show_default=True, help="Shuffling seed (deterministic).")
def split(dataset, root, master_csv, out, val, test, seed) -> None:
    """Patient-aware train/val/test split, stratified by label.

    Either --dataset with --root (the adapter writes OUT/master.csv first: one row per record
    with record, patient, label normal/abnormal, source, path, mask_source, mains_hz; label
    rules in hearteye.data.ludb / mimic / ptbxl) or --master with a master CSV. Every record of
    a patient lands in one set (scikit-learn StratifiedGroupKFold; a fraction is realised as
    1/k of the patients). Prints and saves the report.
    """
    from hearteye.data.master import build_master, read_master

    split_mod = _training("hearteye.data.split")
    format_report, split_master = split_mod.format_report, split_mod.split_master
    write_split = split_mod.write_split

    try:
        if bool(dataset) == bool(master_csv) or bool(dataset) != bool(root):
            raise HeartEyeError("give either --dataset with --root, or --master")
        if dataset:
            master = build_master(dataset, root)
            Path(out).mkdir(parents=True, exist_ok=True)
            master.to_csv(Path(out) / "master.csv", index=False)
        else:
            master = read_master(master_csv)
        parts = split_master(master, val=val, test=test, seed=seed)
        report = write_split(
            parts,
            out,
            {
                "dataset": dataset,
                "root": root,
                "master": master_csv,
                "val": val,
                "test": test,
                "seed": seed,
            },
        )
    except HeartEyeError as err:
        fail(err)
    click.echo(format_report(report))


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output root: one folder per split (OUT/train, OUT/val, OUT/test).",
)
@click.option(
    "--workers", type=int, default=None, help="Local worker processes [default: all cores]."
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run on this Dask distributed scheduler instead (the workers must see "
    "the input and output paths).",
)
@click.option(
    "--shard-size",
    type=int,
    default=None,
    help="Records per shard, the unit of resume [default: 16].",
)
@click.option(
    "--notch",
    type=click.Choice(["auto", "50", "60", "none"]),
    default="auto",
    show_default=True,
    help="Mains notch; auto = the master table's mains_hz.",
)
@click.option("--keep-shards", is_flag=True, help="Keep OUT/<split>/shards after success.")
def prepare(inputs, out, workers, scheduler, shard_size, notch, keep_shards) -> None:
    """Windows and P/QRS/QT masks for training, from split CSVs or a `hearteye split` folder.

    Writes per split X_data.npy (N, 5000, 12) float32, Y_data.npy (N, 5000, 3) uint8,
    M_data.npy (N, 5000) validity, Y_lead_data.npy / M_lead_data.npy for per-lead
    annotations, df_info.csv and manifest.json. Failed records are logged and counted; an
    interrupted run resumes from its finished shards; output bytes do not depend on
    --workers or --scheduler.
    """
    from hearteye.data.prepare import prepare as run_prepare
    from hearteye.data.worker import PrepareParams

    csvs = []
    for p in map(Path, inputs):
        csvs += (
            [
                p / f"{s}_records.csv"
                for s in ("train", "val", "test")
                if (p / f"{s}_records.csv").is_file()
            ]
            if p.is_dir()
            else [p]
        )
    try:
        if not csvs:
            raise HeartEyeError("no split CSVs found; run `hearteye split` first")
        manifests = run_prepare(
            csvs,
            out,
            params=PrepareParams(notch=notch),
            workers=workers,
            scheduler=scheduler,
            shard_size=shard_size,
            keep_shards=keep_shards,
        )
    except HeartEyeError as err:
        fail(err)
    for name, m in manifests.items():
        click.echo(
            f"{name}: {m['records']} records -> {m['windows']} windows, "
            f"{m['failed']} failed, excluded {m['excluded'] or 0}"
        )


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    default=None,
    help="ONNX delineator [default: $HEARTEYE_DELINEATOR_MODEL, else the shipped model].",
)
def delineate(path: str, as_json: bool, model: str | None) -> None:
    """Find every P wave, QRS complex and T end in PATH: global and per-lead boundaries (s)."""
    from hearteye.delineate.runtime import delineate as run_delineate
    from hearteye.io import read_record

    try:
        result = run_delineate(read_record(path), model).to_dict()
    except HeartEyeError as err:
        fail(err)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{len(result['beats'])} beats (times in s)")
    for b in result["beats"]:
        click.echo(
            "  " + "  ".join(f"{k}={'-' if v is None else f'{v:.3f}'}" for k, v in b.items())
        )


@main.command("train-delineator")
@click.option(
    "--data",
    default="hearteye-data/prepared/ludb",
    show_default=True,
    help="Folder with train/ and val/ from `hearteye prepare` (test/ is never read).",
)
@click.option("--out", default="src/hearteye/models/delineator.onnx", show_default=True)
@click.option("--seed", default=1337, show_default=True)
@click.option("--threads", default=2, show_default=True)
@click.option("--max-steps", default=None, type=int, help="Training steps (default: TrainConfig).")
@click.option("--max-minutes", default=None, type=float, help="Wall-clock cap.")
@click.option("--augment/--no-augment", default=True, show_default=True)
@click.option(
    "--device-augment",
    is_flag=True,
    help="Also other rates, pass bands, NST-type noise, sign flips, 1-3 lead inputs; "
    "select on clean + degraded val windows (train_delineator.DEVICE_AUGMENT).",
)
def train_delineator(
    data, out, seed, threads, max_steps, max_minutes, augment, device_augment
) -> None:
    """Train the delineation U-Net (needs the [train] extra) and export it to ONNX."""
    td = _training("hearteye.train.train_delineator")
    cfg = td.TrainConfig(data=data, out=out, seed=seed, threads=threads, augment=augment)
    if device_augment:
        for key, value in td.DEVICE_AUGMENT.items():
            setattr(cfg, key, value)
    if max_steps is not None:
        cfg.max_steps = max_steps
    if max_minutes is not None:
        cfg.max_minutes = max_minutes
    td.train(cfg)


@main.command("evaluate-delineator")
@click.option(
    "--split-csv",
    default="hearteye-data/splits/ludb/test_records.csv",
    show_default=True,
    help="LUDB split CSV from `hearteye split` (the test split).",
)
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    default=None,
    help="An ONNX model to evaluate alone (default: the shipped delineator with its noise gate).",
)
@click.option("--out", default="src/hearteye/models/delineation_eval.json", show_default=True)
@click.option(
    "--card",
    default="src/hearteye/models/MODEL_CARD.md",
    show_default=True,
    help="Model card whose delineation table is rewritten ('' to skip).",
)
def evaluate_delineator(split_csv, model, out, card) -> None:
    """Per-lead LUDB protocol (150 ms and strict tolerances): writes JSON and the card table."""
    from hearteye.train.evaluate_delineator import (
        evaluate_model,
        markdown_table,
        update_model_card,
        write_report,
    )

    report = evaluate_model(split_csv, model)
    write_report(report, out)
    table = markdown_table(
        report, f"LUDB test split: {report['n_records']} records, {report['n_leads']} leads"
    )
    if card:
        update_model_card(card, table)
    click.echo(table)


@main.command("evaluate-robustness")
@click.option(
    "--split-csv",
    default="hearteye-data/splits/ludb/val_records.csv",
    show_default=True,
    help="LUDB split CSV (choose on val; the test split only reports).",
)
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    default=None,
    help="An ONNX model to evaluate alone (default: the shipped delineator with its noise gate).",
)
@click.option("--out", default=None, help="Write the per-condition report as JSON.")
@click.option("--baseline", default=None, help="A report JSON to show side by side (a -> b).")
@click.option("--condition", "names", multiple=True, help="Only these conditions (repeatable).")
@click.option("--limit", default=None, type=int, help="Only the first N records of the split.")
@click.option("--seed", default=0, show_default=True, help="Noise seed (per record, condition).")
@click.option(
    "--card",
    default="",
    help="Model card whose robustness table is rewritten (e.g. src/hearteye/models/MODEL_CARD.md).",
)
def evaluate_robustness(split_csv, model, out, baseline, names, limit, seed, card) -> None:
    """The LUDB protocol on records resampled to other rates, band-limited, noisy, two-lead."""
    from hearteye.train import robustness

    unknown = set(names) - set(robustness.CONDITION_NAMES)
    if unknown:
        raise click.BadParameter(
            f"unknown {sorted(unknown)}; known: {list(robustness.CONDITION_NAMES)}",
            param_hint="--condition",
        )
    conds = tuple(c for c in robustness.CONDITIONS if not names or c.name in names)
    report = robustness.evaluate(split_csv, model, conds, seed=seed, limit=limit)
    if out:
        robustness.write(report, out)
    base = json.loads(Path(baseline).read_text()) if baseline else None
    title = robustness.table_title(report, base)
    table = robustness.markdown_table(report, base)
    if card:
        from hearteye.train.model_card import replace_section

        replace_section(card, "delineation-robustness", f"{title}\n\n{table}")
    click.echo(title)
    click.echo(table)


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (0.0.0.0 in a container).",
)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=None,
    type=int,
    help="gunicorn worker processes [default: one per CPU core].",
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the HeartEye web service under gunicorn (configuration: docs/SERVICE.md)."""
    from hearteye.api.config import ConfigError
    from hearteye.api.server import run

    try:
        run(host=host, port=port, workers=workers)
    except ConfigError as err:
        click.echo(f"error [config]: {err}", err=True)
        sys.exit(2)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the full analysis as JSON.")
@click.option(
    "--model",
    type=click.Choice(["xgboost", "random_forest"]),
    default=None,
    help="Classifier (default: the shipped default, the better by CV AUC).",
)
@click.option(
    "--notch",
    type=click.Choice(["50", "60", "none"]),
    default="50",
    show_default=True,
    help="Mains frequency to remove.",
)
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=2.0),
    default=None,
    help="Read and analyse only the first this many seconds (as the service does "
    "with ANALYZE_MAX_SECONDS) [default: the whole recording; 300 for many records].",
)
@click.option("--out", type=click.Path(dir_okay=False), help="Many records: a Parquet table.")
@click.option("--jsonl", type=click.Path(dir_okay=False), help="Many records: JSON lines.")
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Local processes [all cores]."
)
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:port).")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where finished shards are kept for resuming [OUT.parts].",
)
def analyze(
    paths: tuple[str, ...],
    as_json: bool,
    model: str | None,
    notch: str,
    max_seconds: float | None,
    out: str | None,
    jsonl: str | None,
    workers: int | None,
    scheduler: str | None,
    work_dir: str | None,
) -> None:
    """Analyse one ECG (printed), or many into a table.

    One PATH (any format HeartEye reads, or a .zip) without --out/--jsonl: read, clean,
    delineate, measure and classify it, and print the result. Otherwise PATHS may be files,
    folders (walked recursively), glob patterns and manifest CSVs (a 'path' column), and every
    record found becomes one row of --out (Parquet) and/or --jsonl, in parallel and resumable.
    """
    notch_hz = None if notch == "none" else float(notch)
    if out or jsonl or len(paths) > 1:
        _analyze_many(paths, out, jsonl, workers, scheduler, work_dir, model, notch_hz, max_seconds)
    else:
        _analyze_one(paths[0], as_json, model, notch_hz, max_seconds)


def _analyze_many(paths, out, jsonl, workers, scheduler, work_dir, model, notch_hz, max_seconds):
    from hearteye.batch import BatchOptions, run_batch

    bound = BatchOptions.max_seconds if max_seconds is None else max_seconds
    options = BatchOptions(model=model, notch_hz=notch_hz, max_seconds=bound)
    try:
        counts = run_batch(
            list(paths),
            out=out,
            jsonl=jsonl,
            workers=workers,
            scheduler=scheduler,
            options=options,
            work_dir=work_dir,
        )
    except HeartEyeError as err:
        fail(err)
    click.echo(
        f"{counts['records']} records: {counts['ok']} analysed, {counts['error']} failed "
        f"in {counts['seconds']:.1f} s -> {', '.join(p for p in (out, jsonl) if p)}",
        err=True,
    )


def _analyze_one(
    path: str, as_json: bool, model: str | None, notch_hz: float | None, max_seconds
) -> None:
    """Read, clean, delineate, measure and classify one ECG (any format HeartEye reads)."""
    from hearteye.analyze import analyze as run_analysis
    from hearteye.io import ReadLimits, read_record

    try:
        record = read_record(path, ReadLimits(max_seconds=max_seconds))
        result = run_analysis(
            record,
            model=model,
            max_seconds=max_seconds,
            notch_hz=notch_hz,
        )
    except HeartEyeError as err:
        fail(err)
    except FileNotFoundError as err:  # a model file missing from this installation
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    if as_json:
        echo_json(result.to_dict())
        return
    g = result.measurements["global"]
    click.echo(
        f"{result.classification.upper()}  P(abnormal) = "
        f"{result.probability_abnormal:.2f}  ({result.model})"
    )
    if result.interpretation.get("overall"):
        click.echo(result.interpretation["overall"])
    for s in result.statements:
        click.echo(f"  [{s['severity']}] {s['text']} ({s['code']})")
    for alert in result.interpretation.get("alerts", []):
        click.echo(f"  ALERT: {alert['text']}")
    for name in (
        "heart_rate",
        "pr_interval",
        "qrs_duration",
        "qt_interval",
        "qtc_bazett",
        "qrs_axis",
    ):
        m = g[name]
        flag = f"  [{m['flag']}]" if m["flag"] else ""
        value = "-" if m["value"] is None else f"{m['value']:.0f}"
        click.echo(f"  {name:14s} {value:>6} {m['unit']}{flag}")
    for reason in result.reasons:
        click.echo(f"  - {reason['text']}")


@main.command("train-classifier")
@click.option(
    "--master",
    "masters",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Master CSV(s) from `hearteye split` (repeat for several data sets).",
)
@click.option(
    "--out",
    default="src/hearteye/models/classifier",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the model files go.",
)
@click.option(
    "--work",
    default="out/classifier",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Feature cache and out-of-fold predictions.",
)
@click.option("--folds", default=5, show_default=True)
@click.option("--repeats", default=5, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--sensitivity",
    default=0.95,
    show_default=True,
    help="Operating point: minimum sensitivity for abnormal.",
)
@click.option(
    "--validation-fold",
    type=int,
    default=None,
    help="PTB-XL strat_fold that chooses the threshold (9: PTB-XL's validation fold); "
    "it and the folds above it are left out of training.",
)
@click.option(
    "--holdout-source",
    "holdout",
    multiple=True,
    help="Source(s) (e.g. challenge) left out of training and threshold choice, only predicted.",
)
def train_classifier(
    masters, out, work, folds, repeats, seed, sensitivity, validation_fold, holdout
) -> None:
    """Train XGBoost and RandomForest on the measurements, with grouped repeated CV."""
    import logging

    train = _training("hearteye.train.train_classifier").train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = train(
        [Path(m) for m in masters],
        Path(out),
        Path(work),
        folds,
        repeats,
        seed,
        sensitivity,
        validation_fold,
        tuple(holdout),
    )
    for name, m in spec["models"].items():
        click.echo(
            f"{name:14s} CV AUC {m['cv_auc_mean']:.3f} +- {m['cv_auc_sd']:.3f}  "
            f"threshold {m['threshold']:.3f}"
        )
    click.echo(f"rule baseline  AUC {spec['training']['rule_baseline_auc']:.3f}")
    click.echo(f"default: {spec['default']}; models in {out}")


@main.command("evaluate-classifier")
@click.option(
    "--work",
    default="out/classifier",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
)
@click.option(
    "--models",
    default="src/hearteye/models/classifier",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
)
@click.option(
    "--card",
    default="src/hearteye/models/MODEL_CARD.md",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Model card whose classifier table to update.",
)
def evaluate_classifier(work, models, card) -> None:
    """AUC (bootstrap 95% CI), sensitivity, specificity, Brier, confusion matrix per model."""
    from hearteye.train.evaluate_classifier import markdown_table, run
    from hearteye.train.model_card import replace_section

    report = run(Path(work), Path(models))
    table = markdown_table(report)
    replace_section(Path(card), "classifier-metrics", table)
    click.echo(table)


def _analyse_file(path: str, notch: str):
    from hearteye.analyze import analyze as run_analysis
    from hearteye.io import read_record

    try:
        return run_analysis(read_record(path), notch_hz=None if notch == "none" else float(notch))
    except HeartEyeError as err:
        fail(err)


_NOTCH = click.option(
    "--notch",
    type=click.Choice(["50", "60", "none"]),
    default="50",
    show_default=True,
    help="Mains frequency to remove.",
)
_PATIENT = click.option("--patient-name", default=None, help="Name printed on the report.")


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="PDF file.")
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True)
@_PATIENT
@_NOTCH
def report(path: str, out: str, paper: str, patient_name: str | None, notch: str) -> None:
    """Analyse one ECG and write its one-page PDF report (12 leads at 25 mm/s, 10 mm/mV)."""
    from hearteye.report import render_pdf

    analysis = _analyse_file(path, notch)
    Path(out).write_bytes(render_pdf(analysis, patient={"name": patient_name}, paper=paper))
    click.echo(f"wrote {out}")


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--fhir", type=click.Path(dir_okay=False), help="Write a FHIR R4 Bundle (JSON).")
@click.option("--dicom", type=click.Path(dir_okay=False), help="Write a DICOM 12-lead ECG.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Measurements as CSV.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Measurements as JSON.")
@_PATIENT
@_NOTCH
def export(path, fhir, dicom, csv_out, json_out, patient_name, notch) -> None:
    """Analyse one ECG and export it: FHIR R4, DICOM waveform, measurements CSV / JSON (any
    of them in one run)."""
    if not any((fhir, dicom, csv_out, json_out)):
        raise click.UsageError("give at least one of --fhir, --dicom, --csv, --json")
    from hearteye.export import csv as csv_export
    from hearteye.export.dicom import to_dicom
    from hearteye.export.fhir import to_fhir_bundle

    analysis = _analyse_file(path, notch)
    patient = {"name": patient_name}
    record_id = Path(path).name
    if fhir:
        bundle = to_fhir_bundle(analysis, record_id=record_id, patient=patient)
        Path(fhir).write_text(json.dumps(bundle, indent=1, allow_nan=False))
        click.echo(f"wrote {fhir}")
    if dicom:
        try:
            out = to_dicom(analysis, record_id=record_id, patient=patient)
        except HeartEyeError as err:
            fail(err)
        Path(dicom).write_bytes(out.data)
        cut = f" (first {out.n_samples} samples per lead: the IOD's limit)" if out.cut else ""
        click.echo(f"wrote {dicom}{cut}")
    if csv_out:
        Path(csv_out).write_text(csv_export.measurements_csv(analysis), newline="")
        click.echo(f"wrote {csv_out}")
    if json_out:
        text = json.dumps(json_safe(csv_export.measurements_json(analysis)), indent=2)
        Path(json_out).write_text(text)
        click.echo(f"wrote {json_out}")


_DATA_OPT = click.option(
    "--data",
    default="../shared/data",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="Folder holding ptbxl/, cinc-challenge-samples/, ludb/, ptb-diagnostic-long/.",
)
_CACHE_OPT = click.option(
    "--cache",
    default="hearteye-data/interp-cache",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Per-record measurement cache (filled on first use).",
)
_STATEMENTS_OPT = click.option(
    "--models",
    default="src/hearteye/models/statements",
    show_default=True,
    type=click.Path(file_okay=False),
)


@main.command("train-statements")
@_DATA_OPT
@_CACHE_OPT
@_STATEMENTS_OPT
def train_statements(data, cache, models) -> None:
    """Per-statement models on PTB-XL folds 1-8; rule or model chosen per statement on fold 9."""
    import logging

    from hearteye.train import corpus
    from hearteye.train.statements import train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    done, failed = corpus.extract(corpus.build_table(Path(data)), Path(cache))
    click.echo(f"measured {done} new records ({failed} failed)")
    spec = train(Path(data), Path(cache), Path(models))
    chosen = sorted(c for c, m in spec["methods"].items() if m == "model")
    click.echo(f"learned models shipped for: {', '.join(chosen) or 'none'}")


@main.command("evaluate-statements")
@_DATA_OPT
@_CACHE_OPT
@_STATEMENTS_OPT
@click.option(
    "--card",
    default="src/hearteye/models/MODEL_CARD.md",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Model card whose statement table to update.",
)
def evaluate_statements(data, cache, models, card) -> None:
    """Se, Sp, PPV, F1 (bootstrap 95% CI) per statement and source; writes the model card."""
    import json

    from hearteye.train import corpus
    from hearteye.train.model_card import replace_section
    from hearteye.train.statements import evaluate, markdown

    corpus.extract(corpus.build_table(Path(data)), Path(cache))
    report = evaluate(Path(data), Path(cache), Path(models))
    Path(models).mkdir(parents=True, exist_ok=True)
    (Path(models) / "evaluation.json").write_text(json.dumps(report, indent=2, default=float))
    table = markdown(report)
    replace_section(Path(card), "statement-metrics", table)
    click.echo(table)


if __name__ == "__main__":  # pragma: no cover
    main()
