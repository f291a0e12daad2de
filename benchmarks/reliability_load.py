"""Concurrent uploads are stored whole and once: many concurrent clients upload at once to
gunicorn (several workers) on PostgreSQL; afterwards every record must be retrievable, stored
byte-identical (sha256) to what was sent, with no lost or duplicated row and no id collision.

    .venv/bin/python benchmarks/reliability_load.py --uploads 1000 --clients 16 --workers 4

Starts its own server (`hearteye serve`) on a fresh PostgreSQL database (DATABASE_URL or the
local server) unless --url is given. Prints sent / stored / verified and exits non-zero on
any loss, corruption or error. The uploads are LUDB fixtures with a unique byte each (a
trailing WFDB comment line), so every upload's sha256 differs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import secrets
import sys
import tempfile
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from live_server import new_account, start_server, stop_server

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
PG_ADMIN = os.environ.get(
    "HEARTEYE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def make_upload(i: int) -> tuple[list[tuple[str, bytes]], bytes]:
    """Upload i: LUDB record 1 or 24 as a zip, or as bare .hea + .dat; returns the files and
    the bytes the service must store (the file as is, or the files zipped STORED)."""
    rec = ("1", "24")[i % 2]
    tag = f"# load {i} {secrets.token_hex(4)}\n".encode()
    hea = (FIXTURES / "ludb" / f"{rec}.hea").read_bytes() + tag
    dat = (FIXTURES / "ludb" / f"{rec}.dat").read_bytes()
    if i % 3 == 0:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{rec}.hea", hea)
            zf.writestr(f"{rec}.dat", dat)
        data = buf.getvalue()
        return [(f"load{i}.zip", data)], data
    return [(f"{rec}.hea", hea), (f"{rec}.dat", dat)], b""


def stored_members(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def run(url: str, uploads: int, clients: int) -> dict:
    users = []
    for k in range(clients):
        users.append(new_account(url, f"load{k}_"))

    expected: dict[str, tuple[int, str, object]] = {}  # file_id -> (client, kind, expected)
    errors: list[str] = []
    sessions = [requests.Session() for _ in range(clients)]

    def one(i: int):
        k = i % clients
        files, blob = make_upload(i)
        resp = sessions[k].post(
            f"{url}/predict",
            headers=users[k],
            timeout=300,
            files=[("file", (n, d)) for n, d in files],
            data={"patient_name": f"Load Patient {i}", "age": "50", "gender": "M"},
        )
        if resp.status_code != 201:
            return i, None, f"{resp.status_code} {resp.text[:200]}"
        want = hashlib.sha256(blob).hexdigest() if blob else dict(files)
        return i, (resp.json()["file_id"], k, want), None

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(uploads)))
    elapsed = time.perf_counter() - t0
    ids = []
    for i, ok, err in results:
        if err:
            errors.append(f"upload {i}: {err}")
        else:
            ids.append(ok[0])
            expected[ok[0]] = ok
    dup_ids = [fid for fid, n in Counter(ids).items() if n > 1]

    # Afterwards: each user's history holds exactly its uploads; each upload is retrievable
    # and byte-identical.
    stored = 0
    listed: list[str] = []
    for k, headers in enumerate(users):
        page, mine = 1, []
        while True:
            r = requests.get(f"{url}/history?per_page=100&page={page}", headers=headers, timeout=60)
            rows = r.json()
            mine += [row["file_id"] for row in rows]
            if len(rows) < 100:
                break
            page += 1
        listed += mine
        stored += int(r.headers["X-Total-Count"])
        if sorted(mine) != sorted(f for f, (_, kk, _) in expected.items() if kk == k):
            errors.append(f"client {k}: history differs from what it uploaded")
    for fid in expected:  # each record retrievable by its owner
        k = expected[fid][1]
        if requests.get(f"{url}/ecg/{fid}", headers=users[k], timeout=60).status_code != 200:
            errors.append(f"{fid}: not retrievable")
    return {
        "sent": uploads,
        "accepted": len(ids),
        "stored": stored,
        "listed_unique": len(set(listed)),
        "duplicate_ids": len(dup_ids),
        "errors": errors,
        "elapsed_s": elapsed,
        "expected": expected,
        "users": users,
    }


def verify_storage(result: dict, data_dir: Path) -> int:
    """Byte-identity checked on the stored objects (local storage of the served app)."""
    root = data_dir / "storage"
    verified = 0
    for fid, (_, _k, want) in result["expected"].items():
        matches = list(root.rglob(f"{fid}/upload"))
        if len(matches) != 1:
            result["errors"].append(f"{fid}: stored upload not found")
            continue
        blob = matches[0].read_bytes()
        ok = (
            (hashlib.sha256(blob).hexdigest() == want)
            if isinstance(want, str)
            else stored_members(blob) == want
        )
        if ok:
            verified += 1
        else:
            result["errors"].append(f"{fid}: stored bytes differ from what was sent")
    orphans = (
        {p.name for p in (root / "ecg").iterdir()} - set(result["expected"])
        if (root / "ecg").is_dir()
        else set()
    )
    result["orphans"] = len(orphans)
    return verified


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uploads", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = ap.parse_args(argv)

    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"hearteye_load_{secrets.token_hex(4)}"
    database_url = args.database_url
    if not database_url:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        database_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        proc, url = start_server(database_url, args.workers, data_dir)
        try:
            result = run(url, args.uploads, args.clients)
            result["verified"] = verify_storage(result, data_dir / "data")
            ready = requests.get(url + "/ready", timeout=10).status_code
        finally:
            stop_server(proc)
        with create_engine(database_url).connect() as conn:
            rows = conn.execute(
                text("SELECT count(*), count(DISTINCT file_id), count(DISTINCT id) FROM ecgs")
            ).one()
    if not args.database_url:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(
        f"uploads sent: {result['sent']}  accepted (201): {result['accepted']}  "
        f"stored (history): {result['stored']}  rows: {rows[0]}  "
        f"distinct file ids: {rows[1]}  distinct ids: {rows[2]}"
    )
    print(
        f"verified byte-identical (sha256): {result['verified']}  duplicate ids: "
        f"{result['duplicate_ids']}  orphans: {result['orphans']}  errors: "
        f"{len(result['errors'])}  /ready after: {ready}"
    )
    print(
        f"{args.clients} clients, {args.workers} gunicorn workers: {result['elapsed_s']:.1f} s, "
        f"{result['sent'] / result['elapsed_s']:.1f} uploads/s"
    )
    for err in result["errors"][:20]:
        print("  ", err)
    ok = (
        result["accepted"]
        == result["stored"]
        == result["verified"]
        == rows[0]
        == rows[1]
        == rows[2]
        == args.uploads
        and not result["errors"]
        and not result["orphans"]
        and ready == 200
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
