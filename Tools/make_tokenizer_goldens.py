#!/usr/bin/env python3
"""Write the tokenizer golden files for Tests/TokenizersTests, from Hugging Face's fast BERT tokenizer.

Run from the repository root with the pyenv `python3` that has transformers and tokenizers installed
(`pip install transformers tokenizers`), after fetching the vocabulary:

    Tools/fetch_minilm.sh                                  # all-MiniLM-L6-v2 into Tools/.downloads/
    python3 Tools/make_tokenizer_goldens.py                # writes Tests/Fixtures/tokenizers/

The tokenizer is `BertTokenizerFast.from_pretrained(<MiniLM folder>)` (what AutoTokenizer gives; in
transformers 5 the name is an alias of the tokenizers-backed `BertTokenizer`): bert-base-uncased's vocabulary
(30522 entries), BertNormalizer(lowercase, strip_accents=None, clean_text, handle_chinese_chars), WordPiece with
max_input_chars_per_word=100, `[CLS] A [SEP] (B [SEP])`. The folder is `$MELD_MINILM_DIR`, else what
`Tools/fetch_minilm.sh` prints.

Files written (text; each names the transformers and tokenizers versions used):

- `meld_train_ids.txt` (needs ../shared/data/meld/train_sent_emo.csv, the UTF-8 upstream file):
  one line per train row, in file order, `dia{D}_utt{U} id id id ...`, the ids of
  `tok(text, truncation=True, max_length=128)["input_ids"]`, where `text` is the Utterance field after MELD's
  encoding repair (U+0080-U+009F mapped through cp1252, U+00A0 -> space). Ids only: the text is read from
  ../shared at test time, never copied into the project. The script also checks that the older
  `train_sent_emo.tarball-encoding.csv` gives the same repaired text for every key (and so the same ids).
- `meld_context_ids.txt`: the same for the context option on every 25th train row: the first segment is the
  previous utterances of the dialogue as `Speaker: text`, joined by one space (may be empty), the second is
  `Speaker: text` of the utterance itself; `tok(first, second, truncation=True, max_length=128)` (an empty first
  segment is passed as ""). Lines are `dia{D}_utt{U} n0 id id ...` with n0 = the number of token type 0
  positions (token types are 0 for the first n0 ids, 1 after).
- `cases.json`: synthetic strings written here (no MELD text), each with text, optional pair, max_length,
  padding, and the expected ids, token types, attention mask and tokens (`cases`): accents, Chinese, control
  and format characters, emoji, punctuation runs, words longer than 100 characters, whitespace kinds, curly
  quotes, special tokens inside text, pairs, longest_first truncation at 128 and at small lengths (odd, even,
  equal, one side only, below the special tokens' count), padding, `Speaker: text` context pairs, and chosen
  code points whose class changed between Unicode versions. Also every one of those texts through the
  normaliser and pre-tokenizer alone (`normalizer`: the normalised string and the words).
- `charclasses.txt`: how the Rust normaliser and pre-tokenizer treat every code point U+0000-U+10FFFF, as
  ranges, so the Swift port can be checked character by character (the tables of the `unicode_categories`
  crate behind tokenizers are from an old Unicode version, see Sources/Tokenizers/CharacterClasses.swift).
"""

import csv
import json
import os
import subprocess
import sys

import tokenizers
import transformers
from tokenizers import normalizers, pre_tokenizers
from transformers import BertTokenizerFast

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")
SHARED = os.environ.get("MELD_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
MELD = os.path.join(SHARED, "data", "meld")
MAX_LENGTH = 128
CONTEXT_EVERY = 25

CP1252_C1 = bytes(range(0x80, 0xA0)).decode("cp1252", errors="replace")


def repair(text):
    """MELD's encoding repair: U+0080-U+009F through cp1252 (undefined ones kept), U+00A0 -> space."""
    out = []
    for ch in text:
        cp = ord(ch)
        if 0x80 <= cp <= 0x9F:
            mapped = CP1252_C1[cp - 0x80]
            out.append(ch if mapped == "\ufffd" else mapped)
        elif cp == 0xA0:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def read_meld(path):
    """Rows of a MELD CSV as (key, speaker, text), repaired, in file order."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(f"dia{r['Dialogue_ID']}_utt{r['Utterance_ID']}", repair(r["Speaker"]), repair(r["Utterance"]))
            for r in rows]


def minilm_dir():
    env = os.environ.get("MELD_MINILM_DIR")
    if env:
        return env
    out = subprocess.run([os.path.join(ROOT, "Tools", "fetch_minilm.sh")], check=True, capture_output=True,
                         text=True)
    return out.stdout.strip().splitlines()[-1]


def header(what):
    return (f"# {what}. Made by Tools/make_tokenizer_goldens.py with transformers {transformers.__version__}, "
            f"tokenizers {tokenizers.__version__}, BertTokenizerFast (all-MiniLM-L6-v2 = bert-base-uncased vocab).\n")


def write_meld(tok):
    utf8 = os.path.join(MELD, "train_sent_emo.csv")
    tarball = os.path.join(MELD, "train_sent_emo.tarball-encoding.csv")
    if not os.path.exists(utf8):
        print(f"skipping the MELD goldens: {utf8} is absent", file=sys.stderr)
        return
    rows = read_meld(utf8)
    keys = [k for k, _, _ in rows]
    assert len(set(keys)) == len(keys), "duplicate keys"
    texts = [t for _, _, t in rows]
    ids = tok(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    # The batch call and the single call agree for single sequences; check a few to be sure.
    for i in range(0, len(rows), 997):
        assert tok(texts[i], truncation=True, max_length=MAX_LENGTH)["input_ids"] == ids[i]
    with open(os.path.join(OUT, "meld_train_ids.txt"), "w", encoding="ascii", newline="\n") as f:
        f.write(header(f"ids of tok(Utterance, truncation=True, max_length={MAX_LENGTH}) per MELD train row "
                       f"of train_sent_emo.csv after the encoding repair; {len(rows)} rows"))
        for k, row in zip(keys, ids):
            f.write(k + " " + " ".join(map(str, row)) + "\n")
    print(f"meld_train_ids.txt: {len(rows)} rows, {sum(map(len, ids))} ids, "
          f"{sum(1 for r in ids if len(r) == MAX_LENGTH)} truncated")

    if os.path.exists(tarball):
        other = {k: t for k, _, t in read_meld(tarball)}
        differ = [k for k, _, t in rows if other.get(k) != t]
        assert set(other) == set(keys), "the two encodings have different keys"
        old_ids = tok([other[k] for k in keys], truncation=True, max_length=MAX_LENGTH)["input_ids"]
        differ_ids = [k for k, a, b in zip(keys, ids, old_ids) if a != b]
        print(f"tarball encoding: {len(differ)} rows with different repaired text, {len(differ_ids)} with "
              f"different ids {differ_ids[:10]}")

    # Context pairs: previous utterances of the dialogue as the first segment.
    lines = []
    by_dialogue = {}
    for i, (k, speaker, text) in enumerate(rows):
        dia = k.split("_")[0]
        history = by_dialogue.setdefault(dia, [])
        if i % CONTEXT_EVERY == 0:
            first = " ".join(history)
            second = f"{speaker}: {text}"
            e = tok(first, second, truncation=True, max_length=MAX_LENGTH)
            n0 = e["token_type_ids"].count(0)
            assert e["token_type_ids"] == [0] * n0 + [1] * (len(e["input_ids"]) - n0)
            lines.append(f"{k} {n0} " + " ".join(map(str, e["input_ids"])))
        history.append(f"{speaker}: {text}")
    with open(os.path.join(OUT, "meld_context_ids.txt"), "w", encoding="ascii", newline="\n") as f:
        f.write(header(f"context pairs every {CONTEXT_EVERY}th train row: key, n type-0 ids, ids of "
                       f"tok(' '.join(previous 'Speaker: text'), 'Speaker: text', truncation=True, "
                       f"max_length={MAX_LENGTH})"))
        f.writelines(line + "\n" for line in lines)
    print(f"meld_context_ids.txt: {len(lines)} pairs")


LONG_WORD = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3  # 135 letters
SENTENCE = ("The quick brown fox jumps over the lazy dog while Joey eats a sandwich and Chandler makes a joke "
            "about it, and nobody laughs. ")


def synthetic_cases():
    """(name, text, pair, max_length, pad) tuples; pair None = single sequence; max_length None = no truncation."""
    c = []
    add = lambda name, text, pair=None, max_length=MAX_LENGTH, pad=False: c.append((name, text, pair, max_length, pad))
    add("plain", "Hello, how are you doing today?")
    add("empty", "")
    add("only_spaces", "   \t\n  ")
    add("accents", "Café crème brûlée, naïve résumé, Ångström, São Paulo, Zürich, İstanbul, ŁÓDŹ, ﬁancé")
    add("accents_nfd_input", "Cafe\u0301 cre\u0300me")
    add("greek_final_sigma", "ΟΔΥΣΣΕΥΣ Σίσυφος ΣΑΣ")
    add("german_eszett_and_dotless", "STRASSE Straße ß ẞ ı I")
    add("chinese", "我爱北京天安门。你好,世界!Mixed中文and English")
    add("cjk_ranges", "\u3400\u4dbf\u4e00\u9fff\uf900\ufaff\U00020000\U0002a6df\U0002a700\U0002b740"
                      "\U0002b81f\U0002b820\U0002b91f\U0002b920\U0002ceaf\U0002f800\U0002fa1f\U00030000")
    add("japanese_korean", "こんにちは、カタカナ。한국어 텍스트입니다")
    add("control_chars", "a\x00b\x01c\x07d\x1be\x7ff\x85g\x9dh\u200bi\u200dj\ufeffk\ufffdl\u00adm")
    add("format_and_private_use", "x\u2060y\u202ez\ue000w\U000f0000v\u061cu")
    add("whitespace_kinds", "a\tb\nc\rd\x0be\x0cf\u00a0g\u1680h\u2000i\u2009j\u200ak\u2028l\u2029m\u202fn\u205fo\u3000p")
    add("double_spaces", "Oh!  All right.   Fine,  then.")
    add("nbsp", "Oh!\u00a0 All right.\u00a0Really\u00a0?")
    add("emoji", "I love it 😀😂🥰 👍🏽 ❤️ 🇺🇸 👨‍👩‍👧 ☺")
    add("punctuation_runs", "What?!?!... No---way!!! (really) [maybe] {sure} <html> a+b=c ^_^ ~`|\\ $5 #1 @me 100%")
    add("unicode_punctuation", "«quote» „low“ ‹single› ¿Qué? ¡Sí! — – … · • ‰ † ‡ § ¶ ※ 、。")
    add("curly_quotes", "I’m sure it’s “fine” and ‘ok’, isn’t it?")
    add("cp1252_c1_unrepaired", "company\x92s \x93quoted\x94 and\x85 dash\x97")
    add("numbers", "3.14159 1,000,000 2nd 10:30pm 555-1234 $4.99 1/2 ½ ² ①")
    add("long_word_unk", LONG_WORD + " ok " + LONG_WORD[:100] + " " + LONG_WORD[:101])
    add("long_word_100", "a" * 100)
    add("long_word_101", "a" * 101)
    add("unknown_piece_whole_word", "abc\u2603def x\U0001f600y")
    add("special_tokens_in_text", "Hello [SEP] world [sep] [MASK]x y[CLS] [UNK] [PAD][PAD] [ SEP ]")
    add("hyphens_and_apostrophes", "don't won't y'all rock'n'roll self-aware mother-in-law")
    add("stage_direction", "(She doesn't hear him) [she playfully rubs his head…]")
    add("urls_emails", "Visit https://example.com/a?b=c&d=e or mail me@example.org")
    add("mixed_scripts", "Привет мир Ελληνικά עברית العربية हिन्दी ไทย")
    add("combining_sequences", "e\u0301\u0327 o\u0308\u0304 Z\u0351\u0362 a\u20dd")
    add("canonical_reordering", "x\U0001d16d\U0001d165y \U0001d15f q\u0f71\u0f72\u0f74 \U00011938\u0301 \U00011935\U00011930")
    add("hangul_decomposition", "한글 조합형 \u1100\u1161")
    add("long_text_single", SENTENCE * 12)
    add("long_text_single_512", SENTENCE * 12, max_length=512)
    add("long_text_no_truncation", SENTENCE * 6, max_length=None)
    add("padding_short", "Short one.", max_length=16, pad=True)
    add("padding_exact", "one two three four five six", max_length=8, pad=True)
    add("single_max_8", "one two three four five six seven eight nine ten", max_length=8)
    add("single_max_2", "one two three", max_length=2)
    add("single_max_1_no_truncation", "one two three", max_length=1)

    add("pair_simple", "How are you?", "I am fine, thanks.")
    add("pair_empty_first", "", "Only the second.")
    add("pair_spaces_second", "Only the first.", "   ")
    add("pair_padding", "Hi.", "Hello there.", max_length=16, pad=True)
    # longest_first truncation: lengths chosen to hit each branch (wordpieces of "w1 w2 ..." are 2 each: w ##N)
    words = lambda n, letter="a": " ".join([letter] * n)
    for m in (8, 9, 10, 11):
        add(f"pair_lf_equal_{m}", words(10), words(10, "b"), max_length=m)
        add(f"pair_lf_first_longer_{m}", words(15), words(7, "b"), max_length=m)
        add(f"pair_lf_second_longer_{m}", words(7), words(15, "b"), max_length=m)
        add(f"pair_lf_only_longer_{m}", words(2), words(15, "b"), max_length=m)
        add(f"pair_lf_only_longer_first_{m}", words(15), words(2, "b"), max_length=m)
    add("pair_lf_short_exceeds_budget", words(12), words(13, "b"), max_length=10)
    add("pair_lf_exact_fit", words(3), words(3, "b"), max_length=9)
    add("pair_lf_one_over", words(4), words(3, "b"), max_length=9)
    add("pair_lf_budget_zero", words(5), words(3, "b"), max_length=3)
    add("pair_lf_budget_one", words(5), words(3, "b"), max_length=4)
    add("pair_lf_below_specials_no_truncation", words(5), words(3, "b"), max_length=2)
    add("pair_lf_128_equal", SENTENCE * 4, SENTENCE * 4)
    add("pair_lf_128_first_long", SENTENCE * 8, "What did he say?")
    add("pair_lf_128_second_long", "What did he say?", SENTENCE * 8)
    add("pair_lf_128_both_long_odd", SENTENCE * 5 + "extra", SENTENCE * 7)
    add("pair_no_truncation", SENTENCE * 3, SENTENCE * 3, max_length=None)

    # The context option: previous utterances as the first segment, the utterance as the second.
    add("context_first_utterance", "", "Monica: There's nothing to tell! He's just some guy I work with!")
    add("context_one", "Monica: There's nothing to tell! He's just some guy I work with!",
        "Joey: C'mon, you're going out with the guy! There's gotta be something wrong with him!")
    add("context_three",
        "Chandler: All right Joey, be nice. So does he have a hump? A hump and a hairpiece? "
        "Phoebe: Wait, does he eat chalk? Monica: Just, 'cause, I don't want her to go through what I went "
        "through with Carl- oh!",
        "Monica: Okay, everybody relax. This is not even a date. It’s just two people going out to dinner and- "
        "not having sex.")
    add("context_long_history", " ".join(f"Speaker{i % 4}: line number {i}, and it’s getting longer… really!"
                                         for i in range(40)),
        "Rachel: So, uh, what’s the deal with the “coffee” thing?")
    add("context_long_both", "Ross: " + SENTENCE * 6, "Rachel: " + SENTENCE * 6)
    return c


# Code points whose single-character behaviour differs between Unicode versions (see CharacterClasses.swift).
PROBE_POINTS = [0x061D, 0x09FD, 0x166D, 0x111C9, 0x1734, 0x1885, 0x1886, 0xA9BD, 0x1171E, 0x11938, 0x0890,
                0x08E2, 0x13430, 0x2E43, 0x2E5D, 0x1E95E, 0x180E, 0x200B, 0x0085, 0xE000, 0x10FFFD, 0x0378,
                0x1F970, 0x0130, 0x1E9E, 0x2C2F]


def build_case(tok, name, text, pair, max_length, pad):
    kwargs = {}
    if max_length is not None:
        kwargs["truncation"] = True
        kwargs["max_length"] = max_length
    if pad:
        kwargs["padding"] = "max_length"
    e = tok(text, pair, **kwargs) if pair is not None else tok(text, **kwargs)
    return {"name": name, "text": text, "pair": pair, "max_length": max_length, "pad": pad,
            "ids": e["input_ids"], "token_type_ids": e["token_type_ids"], "attention_mask": e["attention_mask"],
            "tokens": tok.convert_ids_to_tokens(e["input_ids"])}


def write_cases(tok):
    cases = [build_case(tok, *c) for c in synthetic_cases()]
    # Empty pair: transformers' single call drops an empty second text (`if text_pair`), its batch call and the
    # Rust library keep it as `[CLS] A [SEP] [SEP]`; record the batch call, which is what encode(pair: "") does.
    e = tok(["Only the first."], [""], truncation=True, max_length=MAX_LENGTH)
    cases.append({"name": "pair_empty_second_batch", "text": "Only the first.", "pair": "", "max_length": MAX_LENGTH,
                  "pad": False, "ids": e["input_ids"][0], "token_type_ids": e["token_type_ids"][0],
                  "attention_mask": e["attention_mask"][0], "tokens": tok.convert_ids_to_tokens(e["input_ids"][0])})
    for cp in PROBE_POINTS:
        cases.append(build_case(tok, f"probe_U+{cp:04X}", f"x{chr(cp)}y z{chr(cp)}", None, MAX_LENGTH, False))
    # The normaliser and pre-tokenizer alone (their output is lost in [UNK]s for rare characters).
    backend = tok.backend_tokenizer
    texts = sorted({c["text"] for c in cases} | {c["pair"] for c in cases if c["pair"]})
    normalized = []
    for text in texts:
        n = backend.normalizer.normalize_str(text)
        words = [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(n)]
        normalized.append({"text": text, "normalized": n, "words": words})
    doc = {"generator": f"Tools/make_tokenizer_goldens.py, transformers {transformers.__version__}, "
                        f"tokenizers {tokenizers.__version__}, BertTokenizerFast",
           "cases": cases, "normalizer": normalized}
    with open(os.path.join(OUT, "cases.json"), "w", encoding="ascii", newline="\n") as f:
        json.dump(doc, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"cases.json: {len(cases)} cases")


def write_charclasses():
    """Per code point: R removed by clean_text, W mapped to a space, C Chinese (isolated), P punctuation
    (isolated by the pre-tokenizer), M nonspacing mark (removed by strip_accents), . none of these; and the
    code points that NFD does not decompose although Swift does (listed as D)."""
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False)
    chinese = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False,
                                         lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                       lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    classes = []
    lowercase_map = []
    nfd_map = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            classes.append("S")  # surrogates: not Unicode scalars
            continue
        ch = chr(cp)
        cleaned = clean.normalize_str(ch)
        if cleaned == "":
            cls = "R"
        elif cleaned == " " and ch != " ":
            cls = "W"
        elif chinese.normalize_str(ch) != ch:
            cls = "C"
        else:
            pieces = [p for p, _ in pre.pre_tokenize_str("x" + ch + "x")]
            if pieces == ["x", "x"]:
                cls = "W"  # the space itself
            elif pieces == ["x", ch, "x"]:
                cls = "P"
            else:
                assert pieces == ["x" + ch + "x"], (cp, pieces)
                stripped = strip.normalize_str(ch)
                cls = "M" if stripped == "" else "."
        if cls not in "RW":
            stripped = strip.normalize_str(ch)
            if 0xAC00 <= cp <= 0xD7A3:  # Hangul syllables: checked against the algorithm, not listed
                s_index = cp - 0xAC00
                jamo = chr(0x1100 + s_index // 588) + chr(0x1161 + (s_index % 588) // 28)
                jamo += chr(0x11A7 + s_index % 28) if s_index % 28 else ""
                assert stripped == jamo, cp
            elif stripped not in ("", ch):
                nfd_map.append((cp, stripped))
        lowered = lower.normalize_str(ch)
        if lowered != ch:
            lowercase_map.append((cp, lowered))
        classes.append(cls)
    with open(os.path.join(OUT, "charclasses.txt"), "w", encoding="ascii", newline="\n") as f:
        f.write(header("BertNormalizer / BertPreTokenizer behaviour per code point"))
        f.write("# ranges: FIRST LAST CLASS (hex); R removed (clean_text), W whitespace -> space, C Chinese, "
                "P punctuation, M nonspacing mark (stripped), . other, S surrogate\n")
        start = 0
        for cp in range(1, 0x110001):
            if cp == 0x110000 or classes[cp] != classes[start]:
                f.write(f"{start:X} {cp - 1:X} {classes[start]}\n")
                start = cp
        f.write("# strip: CP -> the strip_accents output (NFD, Mn removed) of the single character, where not itself;\n"
                "# Hangul syllables AC00-D7A3 (not listed) decompose algorithmically into conjoining jamo\n")
        for cp, s in nfd_map:
            f.write(f"strip {cp:X} " + " ".join(f"{ord(x):X}" for x in s) + "\n")
        f.write("# lower: CP -> its lowercase mapping, where not itself\n")
        for cp, s in lowercase_map:
            f.write(f"lower {cp:X} " + " ".join(f"{ord(x):X}" for x in s) + "\n")
    print(f"charclasses.txt: {len(nfd_map)} strip mappings, {len(lowercase_map)} lowercase mappings")


def main():
    os.makedirs(OUT, exist_ok=True)
    folder = minilm_dir()
    tok = BertTokenizerFast.from_pretrained(folder)
    assert tok.is_fast or hasattr(tok, "backend_tokenizer"), "expected the fast (Rust) tokenizer"
    write_cases(tok)
    write_meld(tok)
    write_charclasses()


if __name__ == "__main__":
    main()
