"""Hostile uploads over real HTTP: every one (corpus + extra cases) POSTed to a gunicorn server
as raw multipart; prints tried / 4xx / 5xx and checks /ready afterwards.

    .venv/bin/python benchmarks/hostile_http.py            # starts its own server (SQLite)
    .venv/bin/python benchmarks/hostile_http.py --url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "benchmarks")]

from live_server import new_account, start_server, stop_server  # noqa: E402

from reliability.hostile_http import all_cases, judge, multipart  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        proc = None
        url = args.url
        if not url:
            proc, url = start_server(f"sqlite:///{tmp}/h.db", 2, Path(tmp))
        try:
            headers = new_account(url, "hostile")
            outcomes = []
            for case in all_cases():
                body, ctype = multipart(case.files)
                r = requests.post(
                    f"{url}/predict",
                    data=body,
                    timeout=120,
                    headers={**headers, "Content-Type": ctype},
                )
                try:
                    payload = r.json()
                except ValueError:
                    payload = None
                outcomes.append(judge(case, r.status_code, payload, r.text))
            big = requests.post(
                f"{url}/predict",
                headers={**headers, "Content-Type": "multipart/form-data; boundary=x"},
                data=b"x" * (101 << 20),
                timeout=120,
            )
            ready = requests.get(f"{url}/ready", timeout=10).status_code
            history = requests.get(f"{url}/history", headers=headers, timeout=10)
        finally:
            if proc is not None:
                stop_server(proc)
    bad = [o for o in outcomes if o.problem]
    n4 = sum(400 <= o.status < 500 for o in outcomes)
    n5 = sum(o.status >= 500 for o in outcomes)
    print(
        f"hostile inputs tried: {len(outcomes) + 1}  4xx: {n4 + (big.status_code == 413)}  "
        f"5xx: {n5}  wrong code/message: {len(bad)}  oversized body: {big.status_code}  "
        f"stored: {history.headers.get('X-Total-Count')}  /ready after: {ready}"
    )
    for o in bad:
        print("  ", o.case, o.status, o.code, o.problem)
    return 0 if not bad and not n5 and ready == 200 and big.status_code == 413 else 1


if __name__ == "__main__":
    sys.exit(main())
