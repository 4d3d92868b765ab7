"""Fit the reader's answer confidence (qa/session.py READER_CONFIDENCE_*) and its decline threshold, and
compare reader and rules per question language — on our own dev sets, never on the public gold or the
Korean questions of KorQuAD's held-out articles (those score the reader in the README).

Questions (tests/data/dev/, see its README):
* seeds/ + our two English articles: Korean and English questions with and without an answer there, and
  Korean questions over the English articles (seeds_en_archive.jsonl);
* KorQuAD v1.0 dev restricted to its first 70 articles (the cached `qa eval` index, other paragraphs masked):
  questions of articles 70-139 it cannot answer (unanswerable_korquad70.jsonl), and our English questions
  (en_over_korquad.jsonl) — only those on articles the reader never trained on (qa/weights/split.json).

Every question goes through the real Session with the reader; the reader's best span (its support and the
no-answer probability) and the rule-based span (its own calibrated confidence; whether it lies inside the
reader's span) are kept. A logistic regression over those features (bench/calibrate.py's fit) predicts
"the reader's answer is right (F1 >= 0.5)"; fitted on ~70 % (hash split by id), the threshold maximising
the share of right answers + the share of right declines (``balanced``) chosen there, the other ~30 % reported; then refitted on all for the
constants. Printed per language: rules alone vs reader, right answers + right declines, F1.

    python bench/reader_threshold.py [--rows /tmp/reader-rows.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qa.session  # noqa: E402
from bench.calibrate import DEV, FIRST_ARTICLES, KORQUAD, _read, _restricted, fit_logistic, held_out  # noqa: E402
from qa.answer import DEFAULT_DECLINE_THRESHOLD, extract_answer  # noqa: E402
from qa.evaluate import korquad_f1, load_gold, max_over_golds, prepare_korquad_index  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.reader import load_reader  # noqa: E402
from qa.session import READER_CONFIDENCE_FEATURES, reader_features  # noqa: E402

SPLIT = ROOT / "qa" / "weights" / "split.json"
THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 17)]


def collect() -> list[dict]:
    embedder = load_embedder()
    reader = load_reader()
    if reader is None:
        raise SystemExit("no reader pinned in models.lock")
    seen: dict = {}

    def rules(analysis, evidence, *args, **kwargs):
        seen["rules"] = extract_answer(analysis, evidence, *args, **kwargs)
        return seen["rules"]

    original_read = reader.read

    def read(question, passages, top_k=1, priors=None):
        seen["passages"] = list(zip(passages, priors))
        seen["reader"] = original_read(question, passages, top_k=1, priors=priors)
        return seen["reader"]

    reader.read = read
    qa.session.extract_answer = rules

    def ask_all(session, questions, archive):
        rows = []
        for q in questions:
            seen.clear()
            session.ask(q["question"], k=5)
            span, best = seen.get("rules"), (seen.get("reader") or [None])[0]
            passages = seen.get("passages") or []
            retrieval = max((score for (doc, text, start), score in passages if best and doc == best.doc_id
                             and start <= best.start and best.end <= start + len(text)), default=0.0)
            f1 = lambda text: max_over_golds(korquad_f1, text, q["answers"]) if q["answers"] and text else 0.0  # noqa: E731
            rows.append({
                "id": q["id"], "set": q["set"], "lang": q["lang"], "archive": archive,
                "answerable": bool(q["answers"]),
                "reader": best.text if best else None, "reader_f1": f1(best.text if best else None),
                "support": best.support if best else 0.0, "no_answer": best.no_answer if best else 1.0,
                "retrieval": retrieval,
                "rules": span.text if span else None, "rules_f1": f1(span.text if span else None),
                "rules_confidence": float(span.confidence) if span else 0.0,
                "agree": bool(span and best and span.doc_id == best.doc_id and best.start <= span.start and span.end <= best.end),
            })
        return rows

    held = set(json.loads(SPLIT.read_text(encoding="utf-8"))["held_out"]["articles"])
    gold = load_gold(KORQUAD, "korquad")
    index = Path(prepare_korquad_index(gold, embedder).path)
    session = qa.session.Session(index, embedder, sources=(), reader=reader, reader_threshold=0.0)
    session.index = _restricted(session.index, lambda doc: int(doc[2:5]) < FIRST_ARTICLES)
    questions = [dict(q, set="en-korquad") for q in _read(DEV / "en_over_korquad.jsonl") if int(q["doc"][2:5]) in held]
    questions += [dict(q, set=f"{q['lang']}-unanswerable-korquad") for q in _read(DEV / "unanswerable_korquad70.jsonl")]
    started = time.perf_counter()
    rows = ask_all(session, questions, "korquad-first70")
    print(f"korquad: {len(rows)} questions in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    seeds_dir = Path("/tmp/qa-calibrate-seeds-en")
    qa.session.update_index([str(ROOT / "seeds"), str(DEV / "en_news1.txt"), str(DEV / "en_news2.txt")], seeds_dir, embedder)
    session = qa.session.Session(seeds_dir, embedder, sources=(), reader=reader, reader_threshold=0.0)
    questions = [dict(q, set=q["id"].rsplit("-", 1)[0]) for q in _read(DEV / "seeds_en_archive.jsonl")]
    rows += ask_all(session, questions, "seeds+en")
    return rows


def features(row: dict) -> list[float]:
    return reader_features(row["support"], row["no_answer"], row["retrieval"], row["rules_confidence"], row["agree"],
                           row["lang"])


def confidence(row: dict, weights, intercept: float) -> float:
    import math

    return 1 / (1 + math.exp(-(sum(w * x for w, x in zip(weights, features(row))) + intercept)))


def replay(row: dict, model) -> tuple[bool, float]:
    """(answered, F1) under the Session's rule; model None: rules alone, else (weights, intercept, threshold)."""
    if model is not None:
        weights, intercept, threshold = model
        if row["reader"] is not None and confidence(row, weights, intercept) >= threshold:
            return True, row["reader_f1"]
        return False, 0.0
    if row["rules"] is not None and row["rules_confidence"] >= DEFAULT_DECLINE_THRESHOLD:
        return True, row["rules_f1"]
    return False, 0.0


def balanced(rows: list[dict], model) -> float:
    """Share of right answers among answerable questions + share of right declines among the others: the
    dev sets hold twice as many unanswerable questions as users would ask."""
    result = score(rows, model)
    answerable = result["n"] - result["unanswerable"]
    right_answers = result["right"] - result["declined_unanswerable"]
    return right_answers / max(answerable, 1) + result["declined_unanswerable"] / max(result["unanswerable"], 1)


def score(rows: list[dict], model) -> dict:
    right = answered_f1 = 0.0
    answerable = sum(r["answerable"] for r in rows)
    for row in rows:
        answered, f1 = replay(row, model)
        if row["answerable"]:
            right += answered and f1 >= 0.5
            answered_f1 += f1 if answered else 0.0
        else:
            right += not answered
    return {"n": len(rows), "right": int(right), "f1": round(answered_f1 / max(answerable, 1), 3),
            "declined_unanswerable": sum(1 for r in rows if not r["answerable"] and not replay(r, model)[0]),
            "unanswerable": len(rows) - answerable}


def fit(rows: list[dict]):
    import numpy as np

    usable = [r for r in rows if r["reader"] is not None]
    x = np.array([features(r) for r in usable], dtype=np.float64)
    y = np.array([float(r["answerable"] and r["reader_f1"] >= 0.5) for r in usable])
    weights, intercept = fit_logistic(x, y)
    best = max(THRESHOLDS, key=lambda t: (round(balanced(rows, (weights, intercept, t)), 6), -abs(t - 0.5)))
    return weights.tolist(), intercept, best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=Path, default=None, help="reuse (or write) the collected rows here")
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        rows = collect()
        if args.rows:
            args.rows.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    train = [r for r in rows if not held_out(r)]
    test = [r for r in rows if held_out(r)]
    model = fit(train)
    print(f"fitted on {len(train)} rows: weights {dict(zip(READER_CONFIDENCE_FEATURES, model[0]))}, "
          f"intercept {model[1]:.3f}, threshold {model[2]}")
    for name, part in (("held-out part", test), ("all", rows)):
        for lang in ("ko", "en"):
            subset = [r for r in part if r["lang"] == lang]
            print(f"{name} {lang}: rules {score(subset, None)}  reader {score(subset, model)}")
    weights, intercept, threshold = fit(rows)
    print("\nconstants (fitted on all rows) for qa/session.py:")
    print(f"READER_CONFIDENCE_COEFFICIENTS = {tuple(round(w, 4) for w in weights)}")
    print(f"READER_CONFIDENCE_INTERCEPT = {intercept:.4f}")
    print(f"READER_DECLINE_THRESHOLD = {threshold}")
    for lang in ("ko", "en"):
        subset = [r for r in rows if r["lang"] == lang]
        print(f"all {lang}: rules {score(subset, None)}  reader {score(subset, (weights, intercept, threshold))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
