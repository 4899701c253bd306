#!/usr/bin/env python3
"""Referrals per second through the embedded pipeline against a loopback origin.

Starts `triage fixtures serve` and `triage serve` (release build, fresh data directory), submits
N referrals of distinct URLs (the fixture pages with a distinct query string, so every referral
is its own case: fetch, extract, classify, route, store), and waits until all are final.
Prints acceptance rate (stored before the 202) and end-to-end rate. Standard library only.

    python3 bench/pipeline.py [--n 2000] [--batch 250] [--workers 16] [--no-evidence]

`--no-evidence` runs the server with `[evidence] enabled = false`, to see what preserving every
capture (WARC file, custody entry, synced) costs.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# The admin token the server stores at its first start (TRIAGE_ADMIN_TOKEN); every request
# carries it. The per-token rate limit is turned off so that the figure is the pipeline's.
TOKEN = "bench-admin-token-0123456789abcdefghij"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TRIAGE_BIN: another build to measure (e.g. a copy of an older one, for an A/B comparison).
BIN = os.environ.get("TRIAGE_BIN") or os.path.join(ROOT, "target", "release", "triage")
PAGES = ["ru-news.html", "zh-news.html", "ur-news.html", "ar-news.html", "fa-news.html",
         "en-news.html", "kk-news.html", "en-weather.html"]


def start(args, marker):
    env = dict(os.environ, TRIAGE_ADMIN_TOKEN=TOKEN)
    p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for line in p.stdout:
        if line.startswith(marker):
            addr = line.rsplit("http://", 1)[1].strip()
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, addr
    raise SystemExit(f"{args[1]} did not start")


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **AUTH})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.load(r)


def final_count(server):
    with urllib.request.urlopen(urllib.request.Request(f"http://{server}/metrics", headers=AUTH), timeout=10) as r:
        text = r.read().decode()
    return sum(float(v) for v in re.findall(r'^triage_referrals_final_total\{status="\w+"\} (\S+)$', text, re.M))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--no-evidence", action="store_true", help="run with [evidence] enabled = false")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    origin_p, origin = start([BIN, "fixtures", "serve", "--listen", "127.0.0.1:0"], "serving ")
    data = tempfile.mkdtemp(prefix="triage-bench-")
    config = os.path.join(data, "bench.toml")
    with open(config, "w") as f:
        f.write("[limits]\nrequests_per_second = 0.0\n")
        if a.no_evidence:
            f.write("[evidence]\nenabled = false\n")
    extra = ["--config", config]
    server_p, server = start([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                              "--allow-private", origin, "--workers", str(a.workers)] + extra,
                             "triage listening on ")
    try:
        urls = [f"http://{origin}/{PAGES[i % len(PAGES)]}?n={i}" for i in range(a.n)]
        t0 = time.perf_counter()
        for i in range(0, a.n, a.batch):
            status, _ = post(f"http://{server}/v1/referrals", {"referrals": [{"url": u} for u in urls[i:i + a.batch]]})
            assert status == 202
        accepted = time.perf_counter() - t0
        while final_count(server) < a.n:
            time.sleep(0.05)
        done = time.perf_counter() - t0
        with urllib.request.urlopen(urllib.request.Request(f"http://{server}/metrics", headers=AUTH), timeout=10) as r:
            text = r.read().decode()
        routed = re.search(r'^triage_referrals_final_total\{status="routed"\} (\S+)$', text, re.M)
        print(f"referrals: {a.n} (batches of {a.batch}, {a.workers} workers, {os.cpu_count()} cores, "
              f"evidence {'off' if a.no_evidence else 'on'})")
        print(f"accepted (stored before 202): {accepted:.2f} s -> {a.n / accepted:,.0f} referrals/s")
        print(f"end to end (fetch, extract, classify, route, store): {done:.2f} s -> {a.n / done:,.0f} referrals/s")
        print(f"routed: {routed.group(1) if routed else 0}")
        # Mean time per stage from the server's own histogram (time inside a referral, not
        # throughput: stages of different referrals overlap).
        sums = dict(re.findall(r'^triage_stage_seconds_sum\{stage="(\w+)"\} (\S+)$', text, re.M))
        counts = dict(re.findall(r'^triage_stage_seconds_count\{stage="(\w+)"\} (\S+)$', text, re.M))
        stages = [f"{st} {1000 * float(sums[st]) / float(c):.2f}" for st, c in counts.items() if float(c) > 0]
        print("mean ms per stage: " + ", ".join(stages))
    finally:
        server_p.terminate()
        origin_p.terminate()
        server_p.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
