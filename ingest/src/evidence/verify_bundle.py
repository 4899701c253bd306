#!/usr/bin/env python3
"""Check an evidence bundle exported by `triage evidence export`.

Python 3 standard library only; OpenSSL (if installed) checks the Ed25519 signature, since the
standard library has no Ed25519. Run it in the bundle folder or give the folder:

    python3 verify.py [BUNDLE_DIR]

Prints one line per check and exits 0 when every check passed, 1 otherwise.
"""
import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(line):
    return sha256(b"\x00" + line)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def warc_label(data):
    return "sha256:" + base64.b32encode(sha256(data)).decode()


def read_warc(data):
    """Every record of a WARC file as (fields, block); gzip members are joined first."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    records = []
    pos = 0
    while pos < len(data):
        end = data.index(b"\r\n\r\n", pos)
        head = data[pos:end].decode("utf-8").split("\r\n")
        if head[0] != "WARC/1.1":
            raise ValueError("a record does not start with WARC/1.1")
        fields = {}
        for line in head[1:]:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
        length = int(fields["content-length"])
        start = end + 4
        block = data[start:start + length]
        if len(block) != length or data[start + length:start + length + 4] != b"\r\n\r\n":
            raise ValueError("a record is cut short")
        records.append((fields, block))
        pos = start + length + 4
    return records


def main():
    here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)
        return ok

    def path(name):
        return os.path.join(here, name)

    note = open(path("checkpoint.txt"), "rb").read()
    fields = {}
    for line in note.decode().splitlines()[1:]:
        k, v = line.split(" ", 1)
        fields[k] = v
    size, root = int(fields["size"]), bytes.fromhex(fields["root"])

    try:
        out = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", path("public-key.pem"),
             "-rawin", "-in", path("checkpoint.txt"), "-sigfile", path("checkpoint.sig")],
            capture_output=True, text=True)
        check(out.returncode == 0, "checkpoint.txt is signed by public-key.pem (openssl)")
    except FileNotFoundError:
        print("SKIP  signature: openssl is not installed; check checkpoint.sig over checkpoint.txt "
              "with any Ed25519 tool and public-key.pem")

    sums = open(path("SHA256SUMS")).read().splitlines()
    for line in sums:
        digest, name = line.split("  ", 1)
        check(hashlib.sha256(open(path(name), "rb").read()).hexdigest() == digest,
              f"{name} matches SHA256SUMS")

    proofs = json.load(open(path("proofs.json")))
    check(proofs["tree_size"] == size and proofs["root"] == fields["root"],
          f"proofs.json is for the signed head (size {size})")
    lines = open(path("custody.jsonl"), "rb").read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    check(len(lines) == len(proofs["entries"]), "every custody entry has a proof")
    entries = []
    for line, proof in zip(lines, proofs["entries"]):
        entry = json.loads(line)
        entries.append(entry)
        leaf = leaf_hash(line)
        name = f"custody entry {entry['seq']} ({entry['kind']})"
        check(leaf.hex() == proof["leaf_hash"] and entry["seq"] == proof["leaf_index"],
              f"{name} hashes to its leaf")
        path_hashes = [bytes.fromhex(h) for h in proof["audit_path"]]
        check(verify_inclusion(proof["leaf_index"], size, leaf, path_hashes, root),
              f"{name} is in the signed log (inclusion proof)")

    purged = {e.get("capture_id") for e in entries if e["kind"] == "purge"}
    for e in entries:
        if e["kind"] != "capture":
            continue
        cid = e["capture_id"]
        fname = "warc/" + e["file"].rsplit("/", 1)[-1]
        if cid in purged:
            print(f"info  capture {cid}: purged at the end of retention, not in the bundle")
            continue
        if not check(os.path.exists(path(fname)), f"capture {cid}: {fname} is present"):
            continue
        data = open(path(fname), "rb").read()
        check(len(data) == e["file_bytes"] and hashlib.sha256(data).hexdigest() == e["file_sha256"],
              f"capture {cid}: {fname} has the logged size and SHA-256")
        try:
            records = read_warc(data)
        except (ValueError, KeyError, OSError, EOFError) as err:
            check(False, f"capture {cid}: {fname} can be read ({err})")
            continue
        check([r[0].get("warc-record-id") for r in records] == [r["id"] for r in e["records"]],
              f"capture {cid}: the file holds exactly the logged records, in order")
        for (rf, block), logged in zip(records, e["records"]):
            rid = rf.get("warc-record-id")
            ok = rf.get("warc-block-digest") == warc_label(block)
            ok = ok and logged["block_digest"] == "sha256:" + hashlib.sha256(block).hexdigest()
            if "warc-payload-digest" in rf:
                body = block[block.index(b"\r\n\r\n") + 4:]
                ok = ok and rf["warc-payload-digest"] == warc_label(body)
            check(ok, f"capture {cid}: record {rid} ({rf.get('warc-type')}) matches its digests")

    print()
    if failures:
        print(f"{len(failures)} check(s) FAILED")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
