"""How many retrieved chunks should the reader read? Quality against windows read (its cost: ~0.1 s per
window on 2 cores), per policy, on questions whose answers we know:

* ``top-N``: the reader reads the N best chunks in one softmax (the Session's rule: answer when the best
  span beats no-answer and its support reaches the reader's threshold, else decline);
* ``first-then-3``: the best chunk alone first; only when that read is not confident, the top 3;
* ``cascade-3`` / ``cascade-5``: the top 3 (5) chunks one at a time, each alone, stopping at the first
  confident read (the Session's policy, READER_PASSAGES = 3);
* ``separate-best-3``: each of the top 3 alone; the most supported confident span.

Question sets (open-domain over the cached index of all KorQuAD dev paragraphs, as ``qa eval`` builds it):
KorQuAD questions of the reader's TRAINING articles (qa/weights/split.json: the reader has seen them, so its
confidence there is optimistic), the held-out articles' questions (what the README reports), our English
questions over held-out articles and our unanswerable questions (tests/data/dev/, index restricted to the
first 70 articles as in bench/reader_threshold.py). Reader-only outcomes: the rule-based fallback is left out.

    python bench/reader_passages.py [--sample 300] [--seed 0]
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

from bench.calibrate import DEV, FIRST_ARTICLES, KORQUAD, _read, _restricted  # noqa: E402
from qa.evaluate import korquad_f1, load_gold, max_over_golds, prepare_korquad_index  # noqa: E402
from qa.index import load_index  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.reader import load_reader  # noqa: E402
from qa.retrieve import retrieve  # noqa: E402
from qa.session import READER_DECLINE_THRESHOLD  # noqa: E402

SPLIT = ROOT / "qa" / "weights" / "split.json"


class CountingRunner:
    """Memoizes logits per window, counting the distinct windows one question needed."""

    def __init__(self, runner):
        self.runner, self.cache, self.used = runner, {}, set()

    def logits(self, windows):
        keys = [tuple(w.input_ids) for w in windows]
        missing = [w for w, key in zip(windows, keys) if key not in self.cache]
        if missing:
            starts, ends = self.runner.logits(missing)
            for w, s, e in zip(missing, starts, ends):
                self.cache[tuple(w.input_ids)] = (s[: len(w.input_ids)], e[: len(w.input_ids)])
        self.used.update(keys)
        return [self.cache[k][0] for k in keys], [self.cache[k][1] for k in keys]

    def windows_used(self) -> int:
        n = len(self.used)
        self.used.clear()
        return n


def accepted(spans, threshold: float):
    best = spans[0] if spans else None
    if best is not None and best.support > best.no_answer and best.support >= threshold:
        return best
    return None


POLICIES = ("top-1", "top-2", "top-3", "first-then-3", "cascade-3", "cascade-5", "separate-best-3")


def outcomes(reader, runner, index, embedder, question: str, threshold: float) -> dict:
    runner.cache.clear()  # logits are shared by the policies of one question only
    passages = retrieve(index, embedder, question, k=5).passages
    texts = [(p.chunk.doc_id, index.articles[p.chunk.doc_id].text[p.chunk.start : p.chunk.end], p.chunk.start)
             for p in passages]
    priors = [max(p.score, 1e-3) for p in passages]

    def read(n):
        return accepted(reader.read(question, texts[:n], top_k=1, priors=priors[:n]), threshold)

    result = {}
    for n in (1, 2, 3):
        result[f"top-{n}"] = (read(n), runner.windows_used())
    first = read(1)
    if first is None:
        first = read(3)
    result["first-then-3"] = (first, runner.windows_used())
    alone = []
    for n in range(min(5, len(texts))):
        spans = reader.read(question, texts[n : n + 1], top_k=1, priors=priors[n : n + 1])
        alone.append((accepted(spans, threshold), runner.windows_used()))
    for depth in (3, 5):
        cascade, cost = None, 0
        for span, windows in alone[:depth]:
            cost += windows
            if span is not None:
                cascade = span
                break
        result[f"cascade-{depth}"] = (cascade, cost)
    taken = [span for span, _ in alone[:3] if span is not None]
    result["separate-best-3"] = (max(taken, key=lambda s: s.support) if taken else None, sum(w for _, w in alone[:3]))
    return result


def run(name, questions, reader, runner, index, embedder, threshold) -> None:
    totals = {p: {"f1": 0.0, "right": 0, "windows": 0} for p in POLICIES}
    answerable = sum(bool(q["answers"]) for q in questions)
    started = time.perf_counter()
    for q in questions:
        for policy, (span, windows) in outcomes(reader, runner, index, embedder, q["question"], threshold).items():
            row = totals[policy]
            row["windows"] += windows
            if q["answers"]:
                f1 = max_over_golds(korquad_f1, span.text, q["answers"]) if span else 0.0
                row["f1"] += f1
                row["right"] += f1 >= 0.5
            else:
                row["right"] += span is None
    print(f"\n{name}: {len(questions)} questions ({answerable} answerable), {time.perf_counter() - started:.0f} s")
    for policy, row in totals.items():
        print(f"  {policy:13s} F1 {100 * row['f1'] / max(answerable, 1):5.1f}  right {row['right']:4d}  "
              f"windows/question {row['windows'] / len(questions):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=300, help="KorQuAD questions per article group")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=READER_DECLINE_THRESHOLD)
    args = parser.parse_args()
    embedder = load_embedder()
    reader = load_reader()
    if reader is None:
        raise SystemExit("no reader pinned in models.lock")
    runner = CountingRunner(reader.runner)
    reader.runner = runner
    gold = load_gold(KORQUAD, "korquad")
    index = load_index(Path(prepare_korquad_index(gold, embedder).path), embedder.info)
    held = set(json.loads(SPLIT.read_text(encoding="utf-8"))["held_out"]["articles"])
    rng = random.Random(args.seed)
    for name, keep in (("KorQuAD training articles", False), ("KorQuAD held-out articles", True)):
        pool = [{"question": q.question, "answers": list(q.answers)} for q in gold.questions
                if (int(q.doc[2:5]) in held) == keep]
        run(name, rng.sample(pool, min(args.sample, len(pool))), reader, runner, index, embedder, args.threshold)
    first70 = _restricted(index, lambda doc: int(doc[2:5]) < FIRST_ARTICLES)
    english = [q for q in _read(DEV / "en_over_korquad.jsonl") if int(q["doc"][2:5]) in held]
    run("our English questions, held-out articles", english, reader, runner, first70, embedder, args.threshold)
    unanswerable = _read(DEV / "unanswerable_korquad70.jsonl")
    run("our unanswerable questions (first 70 articles)", unanswerable, reader, runner, first70, embedder,
        args.threshold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
