#!/usr/bin/env python3
"""Classification throughput of triage's classifier against a Python pipeline, same corpus,
same run, one core each.

    python3 bench/classify_vs_python.py [--keywords 100000] [--docs 300] [--seconds 3]

What it does:
1. builds the Rust side (`cargo build --release -p classify --example classify_corpus`) and
   has it write the corpus: 100k keywords in ten languages (70 % whole-word, 20 % prefix,
   10 % substring) and ~10 KB mixed-language documents (see classify/benches/support/corpus.rs);
2. runs the Rust side: `classify_corpus run DIR` loads the lists as the service does and
   classifies every document (normalisation, keyword search, regex-free scoring, language ID
   with shares), round after round for --seconds;
3. runs the Python side on the same files: keywords and documents normalised (NFKC, format
   characters removed, casefold), one `pyahocorasick` automaton, word/prefix boundaries
   checked per hit, a list of match records per document, and `lingua-language-detector`
   (high-accuracy mode, models preloaded) on the first 2,400 characters of each document,
   restricted to the 20 languages of LANGUAGES.md that lingua has (triage's detector covers
   27), or with --lingua corpus to the corpus's ten only;
4. prints both throughputs (MB/s of extracted text, by wall clock and by CPU time) and the
   ratio.

The Python packages are installed into a virtual environment (default
/tmp/triage-bench-venv, or --venv) when missing: `pip install pyahocorasick
lingua-language-detector`. Nothing else is fetched.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SEPARATOR = "\n\x0c\n"
PACKAGES = ["pyahocorasick", "lingua-language-detector"]


def ensure_venv(venv):
    py = os.path.join(venv, "bin", "python")
    check = [py, "-c", "import ahocorasick, lingua"]
    if os.path.exists(py) and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    print(f"setting up {venv} with {' '.join(PACKAGES)} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q"] + PACKAGES, check=True)
    return py


PYTHON_SIDE = r'''
import ahocorasick, json, re, sys, time, unicodedata
from lingua import Language, LanguageDetectorBuilder

corpus, seconds = sys.argv[1], float(sys.argv[2])
SEP = "\n\x0c\n"
FORMAT = {c: None for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
FORMAT[0x640] = None  # tatweel

def norm(s):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", s).translate(FORMAT).casefold())

t0 = time.perf_counter()
auto = ahocorasick.Automaton()
with open(f"{corpus}/keywords.tsv", encoding="utf-8") as f:
    for i, line in enumerate(f):
        term, mode = line.rstrip("\n").split("\t")
        key = norm(term).strip()
        if key:
            entries = auto.get(key, None) or []
            entries.append((f"k{i}", mode, len(key)))
            auto.add_word(key, entries)
auto.make_automaton()
CORPUS = ["RUSSIAN", "CHINESE", "URDU", "ARABIC", "PERSIAN", "KAZAKH", "TURKISH", "ENGLISH",
          "FRENCH", "GERMAN"]
# LANGUAGES.md's languages that lingua has (it lacks Pashto, Uyghur, Kyrgyz, Tajik, Uzbek).
REGION = CORPUS + ["AZERBAIJANI", "HINDI", "BENGALI", "UKRAINIAN", "BELARUSIAN", "BULGARIAN",
                   "SERBIAN", "MONGOLIAN", "SPANISH", "INDONESIAN"]
chosen = CORPUS if sys.argv[3] == "corpus" else REGION
detector = (LanguageDetectorBuilder.from_languages(*[getattr(Language, n) for n in chosen])
    .with_preloaded_language_models().build())
build_s = time.perf_counter() - t0
docs = open(f"{corpus}/docs.txt", encoding="utf-8").read().split(SEP)
nbytes = sum(len(d.encode("utf-8")) for d in docs)

def classify(doc):
    text = norm(doc)
    matches = []
    n = len(text)
    for end, entries in auto.iter(text):
        for entry, mode, length in entries:
            start = end + 1 - length
            if mode != "substring":
                if start > 0 and text[start - 1].isalnum() and not is_cjk(text[start]):
                    continue
                if mode == "word" and end + 1 < n and text[end + 1].isalnum() and not is_cjk(text[end]):
                    continue
            matches.append({"entry": entry, "span": [start, end + 1]})
    lang = detector.detect_language_of(doc[:2400])
    return {"language": lang.name if lang else None, "matches": matches}

def is_cjk(c):
    return "\u3040" <= c <= "\u9fff"

matches = sum(len(classify(d)["matches"]) for d in docs)  # warm-up
w0, c0 = time.perf_counter(), time.process_time()
rounds = 0
while rounds == 0 or time.perf_counter() - w0 < seconds:
    for d in docs:
        classify(d)
    rounds += 1
wall, cpu = time.perf_counter() - w0, time.process_time() - c0
print(json.dumps({"build_s": round(build_s, 3), "documents": len(docs), "bytes": nbytes,
                  "matches": matches, "rounds": rounds, "seconds": round(wall, 3),
                  "mb_per_s": round(nbytes * rounds / wall / 1e6, 3),
                  "cpu_seconds": round(cpu, 3),
                  "mb_per_cpu_s": round(nbytes * rounds / cpu / 1e6, 3)}))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keywords", type=int, default=100_000)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--doc-bytes", type=int, default=10 * 1024)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--venv", default="/tmp/triage-bench-venv")
    ap.add_argument("--lingua", choices=["region", "corpus"], default="region",
                    help="lingua's languages: the 20 of LANGUAGES.md it has (default), or only "
                         "the corpus's ten (faster for Python)")
    ap.add_argument("--dir", default=os.path.join(ROOT, "target", "classify-vs-python"))
    a = ap.parse_args()
    py = ensure_venv(a.venv)
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "classify", "--example",
                    "classify_corpus"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "classify_corpus")
    written = subprocess.run([exe, "write", a.dir, str(a.keywords), str(a.docs),
                              str(a.doc_bytes)], check=True, capture_output=True, text=True)
    print("corpus:", written.stdout.strip())
    rust = json.loads(subprocess.run([exe, "run", a.dir, str(a.seconds)], check=True,
                                     capture_output=True, text=True).stdout)
    print("rust:  ", json.dumps(rust))
    python = json.loads(subprocess.run([py, "-c", PYTHON_SIDE, a.dir, str(a.seconds), a.lingua],
                                       check=True, capture_output=True, text=True).stdout)
    print("python:", json.dumps(python))
    print(f"\nRust   {rust['mb_per_s']:8.2f} MB/s wall, {rust['mb_per_cpu_s']:8.2f} MB/s CPU"
          f" ({rust['matches']} matches)")
    print(f"Python {python['mb_per_s']:8.2f} MB/s wall, {python['mb_per_cpu_s']:8.2f} MB/s CPU"
          f" ({python['matches']} matches)")
    print("(Rust: the full matching fold (NFKC, format characters, tatweel and harakat, "
          "look-alikes, Turkish i, Arabic-script folds, traditional->simplified Chinese), "
          "word/prefix/substring keyword search with boundaries, scores, language ID of the "
          "document and per-segment shares over 27 labels;")
    print(" Python: NFKC, format characters and tatweel removed, casefold, whitespace runs, "
          "pyahocorasick with the same boundary checks, a match list, lingua on the first "
          f"2,400 characters; lingua languages: {a.lingua})")
    print(f"ratio  {rust['mb_per_s'] / python['mb_per_s']:8.1f}x wall, "
          f"{rust['mb_per_cpu_s'] / python['mb_per_cpu_s']:8.1f}x CPU")


if __name__ == "__main__":
    main()
