#!/usr/bin/env python3
"""Kafka mode end to end: referrals/s through a real Kafka-protocol broker, with one and with
two workers, and latency from a referral's produce to its first case message at 50 % and
80 % of the measured saturation rate.

Starts a tansu broker (in-memory storage) on a free loopback port, `triage fixtures serve` as
the origin, and W `triage serve --kafka` workers (release build, one consumer group, each with
its own data directory, evidence on as by default). Referrals of distinct URLs (the fixture
pages with a distinct query string: every one is its own case, fetched, classified, routed,
preserved and published) are produced straight onto `triage.referrals`; an independent
consumer reads `triage.cases.*` and notes when each referral's first case message arrives.

    pip install confluent-kafka          # the bench's own client (bundles librdkafka)
    cargo build --release
    python3 bench/kafka.py [--n 1500] [--seconds 20] [--workers-list 1,2]

The broker: $TRIAGE_TANSU, ~/.cache/triage/tansu/bin/tansu (what .ci/run builds), or tansu
on PATH.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, Producer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TRIAGE_BIN") or os.path.join(ROOT, "target", "release", "triage")
PAGES = ["ru-news.html", "zh-news.html", "ur-news.html", "ar-news.html", "fa-news.html",
         "en-news.html", "kk-news.html", "en-weather.html"]


def tansu_bin():
    for c in [os.environ.get("TRIAGE_TANSU"),
              os.path.expanduser("~/.cache/triage/tansu/bin/tansu"),
              os.path.join(ROOT, ".ci/cache/tansu/bin/tansu"),
              shutil.which("tansu")]:
        if c and os.path.isfile(c):
            return c
    sys.exit("no tansu binary: set TRIAGE_TANSU or run .ci/run once")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_line(proc, prefix):
    for line in proc.stdout:
        if line.startswith(prefix):
            return line.strip().rsplit("http://", 1)[-1]
    sys.exit(f"process exited before printing {prefix!r}")


class Rig:
    def __init__(self, workers, tmp):
        self.procs = []
        port = free_port()
        self.brokers = f"127.0.0.1:{port}"
        url = f"tcp://{self.brokers}"
        self.procs.append(subprocess.Popen(
            [tansu_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "tansu.log"), "w")))
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        o = subprocess.Popen([BIN, "fixtures", "serve", "--listen", "127.0.0.1:0"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(o)
        self.origin = wait_line(o, "serving ")
        cfg = os.path.join(tmp, "triage.toml")
        with open(cfg, "w") as f:
            f.write("workers = 16\n[kafka]\npartitions = 4\n")
        for w in range(workers):
            p = subprocess.Popen(
                [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(tmp, f"w{w}"),
                 "--allow-private", self.origin, "--kafka", self.brokers, "--config", cfg],
                cwd=ROOT, stdout=subprocess.PIPE,
                stderr=open(os.path.join(tmp, f"w{w}.log"), "w"), text=True,
                env=dict(os.environ, RUST_LOG="warn"))
            self.procs.append(p)
            wait_line(p, "triage listening on ")
        self.producer = Producer({"bootstrap.servers": self.brokers, "enable.idempotence": True,
                                  "linger.ms": 1})
        self.arrived = {}
        self.lock = threading.Lock()
        self.stop = False
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        c = Consumer({"bootstrap.servers": self.brokers, "group.id": "bench-reader",
                      "auto.offset.reset": "earliest", "topic.metadata.refresh.interval.ms": 1000,
                      "fetch.wait.max.ms": 50})
        c.subscribe(["^triage\\.cases\\..*"])
        while not self.stop:
            m = c.poll(0.1)
            if m is None or m.error():
                continue
            t = time.monotonic()
            rid = json.loads(m.value())["referral"]["referral_id"]
            with self.lock:
                self.arrived.setdefault(rid, t)
        c.close()

    def produce(self, rid, i):
        page = PAGES[i % len(PAGES)]
        v = json.dumps({"schema": "triage.referral/v1", "referral_id": rid,
                        "url": f"http://{self.origin}/{page}?b={rid}", "agency": "demo-unit"})
        while True:
            try:
                self.producer.produce("triage.referrals", key=rid, value=v)
                break
            except BufferError:
                self.producer.poll(0.01)
        self.producer.poll(0)

    def wait_for(self, ids, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(i in self.arrived for i in ids):
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        self.stop = True
        self.producer.flush(10)
        self.producer = None  # disconnect before the broker goes
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run(workers, n, seconds):
    tmp = tempfile.mkdtemp(prefix="triage-bench-kafka-")
    rig = Rig(workers, tmp)
    try:
        # Warm-up (topic creation, group join, first fetches), not measured.
        warm = [f"warm-{i}" for i in range(20)]
        for i, rid in enumerate(warm):
            rig.produce(rid, i)
        rig.producer.flush(30)
        if not rig.wait_for(warm, 120):
            sys.exit(f"warm-up did not complete; see logs in {tmp}")
        # Saturation: a backlog of n, drained as fast as the workers go.
        ids = [f"sat-{i}" for i in range(n)]
        t0 = time.monotonic()
        for i, rid in enumerate(ids):
            rig.produce(rid, i)
        rig.producer.flush(60)
        if not rig.wait_for(ids, 600):
            sys.exit(f"saturation run did not complete; see logs in {tmp}")
        with rig.lock:
            t_end = max(rig.arrived[i] for i in ids)
        rate = n / (t_end - t0)
        print(f"workers={workers}: saturation {rate:.0f} referrals/s ({n} referrals, backlog drained in {t_end - t0:.1f} s)")
        results = {"workers": workers, "saturation_per_s": round(rate, 1), "latency": {}}
        for frac in (0.5, 0.8):
            target = rate * frac
            ids, sent = [], {}
            start = time.monotonic()
            k = 0
            while time.monotonic() - start < seconds:
                due = start + k / target
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                rid = f"lat{int(frac * 100)}-{k}"
                sent[rid] = time.monotonic()
                rig.produce(rid, k)
                ids.append(rid)
                k += 1
            rig.producer.flush(60)
            if not rig.wait_for(ids, 300):
                sys.exit(f"latency run did not complete; see logs in {tmp}")
            with rig.lock:
                lat = [(rig.arrived[i] - sent[i]) * 1000 for i in ids]
            p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
            print(f"workers={workers}: at {int(frac * 100)}% ({target:.0f}/s, {len(ids)} referrals) produce->case p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            results["latency"][f"{int(frac * 100)}%"] = {"rate_per_s": round(target, 1), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1)}
        return results
    finally:
        rig.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1500, help="referrals in the saturation backlog")
    ap.add_argument("--seconds", type=float, default=20, help="length of each latency run")
    ap.add_argument("--workers-list", default="1,2")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} missing: cargo build --release")
    out = [run(int(w), a.n, a.seconds) for w in a.workers_list.split(",")]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
