"""Choose the reader's decline threshold (qa/session.py READER_DECLINE_THRESHOLD) and its calibrated
confidence floor per question language (READER_CONFIDENCE_FLOOR), and compare reader and
rules per question language — on our own dev sets, never on the public gold or the
Korean questions of KorQuAD's held-out articles (those score the reader in the README).

Questions (tests/data/dev/, see its README):
* seeds/ + our two English articles: Korean and English questions with and without an answer there, and
  Korean questions over the English articles (seeds_en_archive.jsonl);
* KorQuAD v1.0 dev restricted to its first 70 articles (the cached `qa eval` index, other paragraphs masked):
  questions of articles 70-139 it cannot answer (unanswerable_korquad70.jsonl), and our English questions
  (en_over_korquad.jsonl) — only those on articles the reader never trained on (qa/weights/split.json) —,
  our English questions written over such articles (en_written_korquad.jsonl) and English near misses of
  their facts that the archive does not answer (en_near_miss_korquad70.jsonl),
  and 120 Korean KorQuAD questions of the reader's training articles among them (it has seen these, so
  it is right more often there than on new text), so that a floor's cost in Korean answers is measured.

Every question goes through the real Session with the reader; the reader's best span of each chunk it reads
(its support and the no-answer probability) and the rule-based span with its own calibrated confidence are
kept, then the Session's rule (the first of the top 3 reads — ``--passages`` — whose span beats no-answer with
support >= threshold and whose calibrated confidence clears the floor, else rules if confident, else
decline) is replayed for each threshold and floor, and against rules alone. Printed per language: right
answers (F1 >= 0.5), right declines, mean F1 over answerable questions. The threshold that maximises the
share of right answers + the share of right declines over both languages is chosen, then the floor that
does so for each language (ties: the lowest: most gold questions have an answer).

    python bench/reader_threshold.py [--rows /tmp/reader-rows.json]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qa.session  # noqa: E402
from bench.calibrate import DEV, FIRST_ARTICLES, KORQUAD, _read, _restricted  # noqa: E402
from qa.answer import DEFAULT_DECLINE_THRESHOLD, extract_answer  # noqa: E402
from qa.evaluate import korquad_f1, load_gold, max_over_golds, prepare_korquad_index  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.reader import load_reader  # noqa: E402

SPLIT = ROOT / "qa" / "weights" / "split.json"
THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 20)]
COLLECTED_READS = 5
KOREAN_TRAINING_SAMPLE = 120
FLOORS = [DEFAULT_DECLINE_THRESHOLD] + [round(0.3 + 0.05 * i, 2) for i in range(13)]
SURE = [0.0, 0.7, 0.8, 0.85, 0.9, 0.95, 1.01]  # 0.0: the first accepted read; 1.01: the most confident of all
SESSION_READS = qa.session.READER_PASSAGES  # collect() raises the module's value to COLLECTED_READS


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
        spans = original_read(question, passages, top_k=1, priors=priors)
        seen.setdefault("reads", []).append(spans[0] if spans else None)
        return spans

    reader.read = read
    qa.session.extract_answer = rules
    qa.session.READER_PASSAGES = COLLECTED_READS  # replay() takes the first --passages of them

    def ask_all(session, questions, archive):
        rows = []
        for q in questions:
            seen.clear()
            result = session.ask(q["question"], k=5)
            span = seen.get("rules")
            f1 = lambda text: max_over_golds(korquad_f1, text, q["answers"]) if q["answers"] and text else 0.0  # noqa: E731
            rows.append({
                "id": q["id"], "set": q["set"], "lang": q["lang"], "archive": archive,
                "answerable": bool(q["answers"]),
                # the Session's reads, best retrieved chunk first (none accepted: the threshold is above 1)
                "reads": [{"text": best.text, "f1": f1(best.text), "support": best.support,
                           "no_answer": best.no_answer, "dense": passage.dense,
                           "same_language": passage.lang == result.language} if best else None
                          for best, passage in zip(seen.get("reads", []), result.passages)],
                "rules": span.text if span else None, "rules_f1": f1(span.text if span else None),
                "rules_confidence": float(span.confidence) if span else 0.0,
            })
        return rows

    held = set(json.loads(SPLIT.read_text(encoding="utf-8"))["held_out"]["articles"])
    gold = load_gold(KORQUAD, "korquad")
    index = Path(prepare_korquad_index(gold, embedder).path)
    # reader_threshold above 1: the reader never answers, so the rules always run and both spans are kept
    session = qa.session.Session(index, embedder, sources=(), reader=reader, reader_threshold=2.0)
    session.index = _restricted(session.index, lambda doc: int(doc[2:5]) < FIRST_ARTICLES)
    questions = [dict(q, set="en-korquad") for q in _read(DEV / "en_over_korquad.jsonl") if int(q["doc"][2:5]) in held]
    korean = sorted((q for q in gold.questions if int(q.doc[2:5]) < FIRST_ARTICLES and int(q.doc[2:5]) not in held),
                    key=lambda q: q.id)
    questions += [{"id": q.id, "set": "ko-korquad-train", "lang": "ko", "question": q.question, "answers": q.answers}
                  for q in random.Random(0).sample(korean, KOREAN_TRAINING_SAMPLE)]
    questions += [dict(q, set=f"{q['lang']}-unanswerable-korquad") for q in _read(DEV / "unanswerable_korquad70.jsonl")]
    questions += [dict(q, set="en-written-korquad") for q in _read(DEV / "en_written_korquad.jsonl")]
    questions += [dict(q, set="en-near-miss-korquad") for q in _read(DEV / "en_near_miss_korquad70.jsonl")]
    started = time.perf_counter()
    rows = ask_all(session, questions, "korquad-first70")
    print(f"korquad: {len(rows)} questions in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    seeds_dir = Path("/tmp/qa-calibrate-seeds-en")
    qa.session.update_index([str(ROOT / "seeds"), str(DEV / "en_news1.txt"), str(DEV / "en_news2.txt")], seeds_dir, embedder)
    session = qa.session.Session(seeds_dir, embedder, sources=(), reader=reader, reader_threshold=2.0)
    questions = [dict(q, set=q["id"].rsplit("-", 1)[0]) for q in _read(DEV / "seeds_en_archive.jsonl")]
    rows += ask_all(session, questions, "seeds+en")
    return rows


def replay(row: dict, threshold: float | None, passages: int | None = None,
           floor: float | None = None, sure: float | None = None, counter: list | None = None) -> tuple[bool, float]:
    """(answered, F1) under the Session's rule, reading at most ``passages`` chunks (default: the Session's),
    reader answers held to the calibrated ``floor`` and reading ended by one at ``sure`` (defaults: the
    Session's); threshold None: rules alone. Chunks read are appended to ``counter``."""
    floor = qa.session.READER_CONFIDENCE_FLOOR[row["lang"]] if floor is None else floor
    reads = row["reads"][: passages or SESSION_READS] if threshold is not None else []

    def accepted():
        for rank, read in enumerate(reads):
            if counter is not None:
                counter.append(rank)
            if read is None:
                continue
            confidence = qa.session.E5_READER_CALIBRATION.confidence(read["support"], rank, read["dense"],
                                                                     read["same_language"], read["no_answer"])
            if qa.session.reader_accepts(read["support"], read["no_answer"], confidence, threshold,
                                         max(floor, DEFAULT_DECLINE_THRESHOLD)):
                yield confidence, read

    chosen = qa.session.first_sure_or_most_confident(accepted(), qa.session.READER_SURE if sure is None else sure)
    if chosen is not None:
        return True, chosen[1]["f1"]
    if row["rules"] is not None and row["rules_confidence"] >= DEFAULT_DECLINE_THRESHOLD:
        return True, row["rules_f1"]
    return False, 0.0


def balanced(rows: list[dict], model, passages: int | None = None, floor: float | None = None,
             sure: float | None = None) -> float:
    """Share of right answers among answerable questions + share of right declines among the others: the
    dev sets hold twice as many unanswerable questions as users would ask."""
    result = score(rows, model, passages, floor, sure)
    answerable = result["n"] - result["unanswerable"]
    right_answers = result["right"] - result["declined_unanswerable"]
    return right_answers / max(answerable, 1) + result["declined_unanswerable"] / max(result["unanswerable"], 1)


def score(rows: list[dict], model, passages: int | None = None, floor: float | None = None,
          sure: float | None = None) -> dict:
    right = answered_f1 = 0.0
    answerable = sum(r["answerable"] for r in rows)
    for row in rows:
        answered, f1 = replay(row, model, passages, floor, sure)
        if row["answerable"]:
            right += answered and f1 >= 0.5
            answered_f1 += f1 if answered else 0.0
        else:
            right += not answered
    return {"n": len(rows), "right": int(right), "f1": round(answered_f1 / max(answerable, 1), 3),
            "declined_unanswerable": sum(1 for r in rows if not r["answerable"] and not replay(r, model, passages, floor, sure)[0]),
            "unanswerable": len(rows) - answerable}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=Path, default=None, help="reuse (or write) the collected rows here")
    parser.add_argument("--passages", type=int, default=None,
                        help=f"chunks read per question in the replay (default: the Session's; rows hold up to {COLLECTED_READS})")
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        rows = collect()
        if args.rows:
            args.rows.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    for lang in ("ko", "en"):
        subset = [r for r in rows if r["lang"] == lang]
        print(f"{lang}: rules alone  {score(subset, None)}")
        for t in THRESHOLDS:
            print(f"{lang}: reader >= {t:<5} {score(subset, t, args.passages)}")
    chosen = max(THRESHOLDS, key=lambda t: (round(balanced(rows, t, args.passages), 6), -t))  # ties: the lowest, answer more
    print(f"chosen READER_DECLINE_THRESHOLD = {chosen}")
    for floor in FLOORS:
        print(f"floor {floor:<5} " + "  ".join(f"{lang}: {score([r for r in rows if r['lang'] == lang], chosen, args.passages, floor)}"
                                          for lang in ("ko", "en")))
    floors = {lang: max(FLOORS, key=lambda f: (round(balanced([r for r in rows if r["lang"] == lang], chosen,
                                                                     args.passages, f), 6), -f))
              for lang in ("ko", "en")}
    print(f"chosen READER_CONFIDENCE_FLOOR = {floors}")
    by_lang = {lang: [r for r in rows if r["lang"] == lang] for lang in ("ko", "en")}
    for sure in SURE:  # with the floors just chosen
        line = []
        for lang, subset in by_lang.items():
            reads = []
            for row in subset:
                replay(row, chosen, args.passages, floors[lang], sure, counter=reads)
            line.append(f"{lang}: {score(subset, chosen, args.passages, floors[lang], sure)} reads/q {len(reads) / len(subset):.2f}")
        print(f"sure {sure:<5} " + "  ".join(line))
    sure = max(SURE, key=lambda s: (round(sum(balanced(subset, chosen, args.passages, floors[lang], s)
                                              for lang, subset in by_lang.items()), 6), -s))  # ties: read less
    print(f"chosen READER_SURE = {sure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
