#!/usr/bin/env python3
"""How long a hot reload of the shared lists takes, and what the loaded set costs in memory.

Starts `triage serve` (release build) on a copy of fixtures/lists, optionally with one more
synthetic list of N entries (keywords, sha256 hashes or URLs: made-up values, no real data),
then edits a list and calls `POST /v1/lists/reload` R times. Prints the server's own
`took_ms` (read + validate + compile + swap) and the wall time of the request, median and
max, plus the server's resident memory after the last reload. Standard library only.

    python3 bench/lists_reload.py                          # the fixture set alone
    python3 bench/lists_reload.py --kind keywords --n 100000
    python3 bench/lists_reload.py --kind hashes --n 100000
    python3 bench/lists_reload.py --kind urls --n 100000
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "triage")
# The admin token the server stores at its first start (TRIAGE_ADMIN_TOKEN, at least 32 characters).
TOKEN = "bench-admin-token-0123456789abcdefghij"


def start(args):
    env = dict(os.environ, TRIAGE_ADMIN_TOKEN=TOKEN)
    p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for line in p.stdout:
        if line.startswith("triage listening on "):
            addr = line.rsplit("http://", 1)[1].strip()
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, addr
    raise SystemExit("triage serve did not start")


def synthetic_list(lists, kind, n):
    d = os.path.join(lists, "bench-big")
    os.makedirs(d)
    kinds = {"keywords": "keywords", "hashes": "hashes", "urls": "urls"}
    with open(os.path.join(d, "list.toml"), "w") as f:
        f.write(f'id = "bench-big"\nname = "Synthetic {n} {kind}"\nkind = "{kinds[kind]}"\n'
                f'owner = "bench"\ntrust = "low"\nversion = "1"\ndefault_category = "extremism"\n')
    with open(os.path.join(d, "entries.jsonl"), "w") as f:
        for i in range(n):
            h = hashlib.sha256(f"bench-{i}".encode()).hexdigest()
            if kind == "keywords":
                e = {"id": f"b{i}", "term": f"zq{h[:10]} demo"}
            elif kind == "hashes":
                e = {"id": f"b{i}", "algorithm": "sha256", "hash": h}
            else:
                e = {"id": f"b{i}", "url": f"https://host{i % 997}.example/p/{h[:16]}?utm_source=x"}
            f.write(json.dumps(e) + "\n")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["keywords", "hashes", "urls"])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="triage-bench-lists-")
    lists = os.path.join(work, "lists")
    shutil.copytree(os.path.join(ROOT, "fixtures", "lists"), lists)
    if a.kind:
        synthetic_list(lists, a.kind, a.n)
    cfg = os.path.join(work, "config.toml")
    with open(cfg, "w") as f:
        f.write('default_agency = "ops"\n[[agencies]]\nid = "ops"\njurisdiction = "FR"\n')
    t = time.perf_counter()
    p, addr = start([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "data"),
                     "--config", cfg, "--lists", lists])
    startup = time.perf_counter() - t
    took, wall = [], []
    edited = os.path.join(lists, "kw-partner", "entries.jsonl")
    try:
        for i in range(a.repeat):
            with open(edited, "a") as f:
                f.write(json.dumps({"id": f"bench-{i}", "term": f"bench reload {i}"}) + "\n")
            req = urllib.request.Request(f"http://{addr}/v1/lists/reload", data=b"", method="POST",
                                         headers={"authorization": f"Bearer {TOKEN}"})
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=600) as r:
                body = json.load(r)
            wall.append((time.perf_counter() - t) * 1000)
            assert body["changed"], body
            took.append(body["took_ms"])
        entries = body["entries"]
        rss = rss_mb(p.pid)
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(work, ignore_errors=True)
    label = f"fixtures + {a.n} {a.kind}" if a.kind else "fixtures"
    print(f"list set: {label} ({entries} entries in all)")
    print(f"start-up to listening: {startup * 1000:.0f} ms")
    print(f"reload took_ms (server): median {statistics.median(took):.1f}, max {max(took):.1f} over {a.repeat}")
    print(f"reload request wall time: median {statistics.median(wall):.1f} ms, max {max(wall):.1f} ms")
    print(f"server resident memory after reloads: {rss:.0f} MB")


if __name__ == "__main__":
    main()
