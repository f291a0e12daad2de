"""What a long upload costs the service: time and memory of one `POST /predict`, for a 10 s
resting ECG (the baseline), a 24 h 2-lead Holter, and a FLAC-coded WFDB record whose 16 MB
hold 100 M samples, each with the default ANALYZE_MAX_SECONDS (300) and, for comparison,
with the bound lifted (the whole recording decoded and analysed).

    .venv/bin/python benchmarks/long_upload.py [--skip-whole]

Each upload runs in a fresh interpreter on an in-process app (SQLite, local storage in a
temporary folder); the figure is that process's peak RSS minus its RSS just before the
upload (``VmHWM``, reset just before the upload through ``/proc/self/clear_refs``, and
``VmRSS`` of ``/proc/self/status``; ``getrusage``'s peak would carry over from the parent
that wrote the records). Linux only. Uploads are sent as a .hea + .dat pair.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LUDB_RECORD = REPO / "tests" / "fixtures" / "ludb" / "1"

CHILD = r"""
import io, json, secrets, sys, time
from pathlib import Path
from hearteye.api import create_app
from hearteye.api.config import Settings

folder, name, max_seconds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
files = [(f"{name}.{ext}", (folder / f"{name}.{ext}").read_bytes()) for ext in ("hea", "dat")]
work = Path(sys.argv[4])
app = create_app(Settings(data_dir=work, database_url=f"sqlite:///{work}/db.sqlite",
                          jwt_secret_key=secrets.token_hex(32), secret_key=secrets.token_hex(32),
                          analyze_max_seconds=max_seconds))
client = app.test_client()
client.post("/auth/register", json={"username": "bench", "email": "bench@example.org",
                                    "password": "a long password"})
token = client.post("/auth/login", json={"username": "bench",
                                         "password": "a long password"}).json["access_token"]
def status_mb(field):  # VmRSS now, VmHWM peak (per address space: not carried over exec)
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # start the peak (VmHWM) afresh: start-up and model loading are not counted
before = status_mb("VmRSS")
t = time.perf_counter()
resp = client.post("/predict", headers={"Authorization": f"Bearer {token}"},
                   data={"patient_name": "Bench", "file": [(io.BytesIO(b), n) for n, b in files]},
                   content_type="multipart/form-data")
seconds = time.perf_counter() - t
peak = status_mb("VmHWM")
body = resp.get_json()
print(json.dumps({"status": resp.status_code, "seconds": seconds, "extra_mb": peak - before,
                  "analysed_s": body.get("summary", {}).get("analysed_seconds"),
                  "duration_s": body.get("duration_s")}))
"""


def write_records(folder: Path) -> dict[str, str]:
    import wfdb
    from scipy.signal import resample_poly

    rec = wfdb.rdrecord(str(LUDB_RECORD))
    wfdb.wrsamp(
        "resting",
        fs=500,
        units=rec.units,
        sig_name=rec.sig_name,
        p_signal=rec.p_signal,
        fmt=["16"] * rec.n_sig,
        adc_gain=[1000.0] * rec.n_sig,
        baseline=[0] * rec.n_sig,
        write_dir=str(folder),
    )
    two = resample_poly(rec.p_signal[:, [1, 6]], 1, 2, axis=0)  # II and V1 at 250 Hz
    n = 24 * 3600 * 250
    wfdb.wrsamp(
        "holter24h",
        fs=250,
        units=["mV", "mV"],
        sig_name=["II", "V1"],
        p_signal=np.tile(two, (n // len(two) + 1, 1))[:n],
        fmt=["16", "16"],
        adc_gain=[200.0, 200.0],
        baseline=[0, 0],
        write_dir=str(folder),
    )
    n = 100_000_000
    spikes = np.zeros((n, 1), dtype=np.int16)
    spikes[::1000] = 500  # one "beat" a second: compresses ~6x under FLAC
    wfdb.wrsamp(
        "flac100M",
        fs=1000,
        units=["mV"],
        sig_name=["II"],
        d_signal=spikes,
        fmt=["516"],
        adc_gain=[1000.0],
        baseline=[0],
        write_dir=str(folder),
    )
    return {
        "10 s 12-lead resting ECG": "resting",
        "24 h 2-lead Holter, 250 Hz": "holter24h",
        "FLAC WFDB, 100 M samples": "flac100M",
    }


def upload(folder: Path, name: str, max_seconds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="long_upload_") as work:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(folder), name, str(max_seconds), work],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--skip-whole",
        action="store_true",
        help="skip the runs with the bound lifted (the 24 h one takes minutes)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="long_records_") as tmp:
        folder = Path(tmp)
        print("writing the records ...", flush=True)
        cases = write_records(folder)
        sizes = {
            label: sum((folder / f"{name}.{e}").stat().st_size for e in ("hea", "dat"))
            for label, name in cases.items()
        }
        print(
            f"\n{'upload':<28} {'MB':>6} {'bound':>7} {'status':>6} {'analysed':>10} "
            f"{'seconds':>8} {'+RSS MB':>8}"
        )
        bounds = [300] if args.skip_whole else [300, 10**7]
        for label, name in cases.items():
            for bound in bounds:
                r = upload(folder, name, bound)
                shown = "300 s" if bound == 300 else "none"
                print(
                    f"{label:<28} {sizes[label] / 1e6:6.1f} {shown:>7} {r['status']:>6} "
                    f"{r['analysed_s'] or 0:>9.0f}s {r['seconds']:8.2f} {r['extra_mb']:8.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
