"""Fit the map from the reader's support to the confidence `qa` reports (qa/session.py READER_CALIBRATION,
READER_CALIBRATION_CROSS_LANGUAGE and READER_CALIBRATION_ANY_EMBEDDER).

Read one chunk at a time, the reader's support is over-confident (held-out answers at 0.8-1.0 were right
84 % of the time at a mean of 0.986), and it is high too where the archive lacks the answer. Platt scaling
refits it: a logistic regression of "right" (KorQuAD F1 >= 0.5; any answer to a question whose article is
not indexed is wrong) on logit(support), the rank of the chunk that answered (0: the best retrieved),
that chunk's e5 cosine similarity to the question and the logit of the read's no-answer probability (5-fold
cross-validated log-loss 0.211 -> 0.194 same-language, 0.495 -> 0.488 cross-language with it). Three fits: answers from a chunk in the question's
language, answers from a chunk in another language (e5's cosine runs lower across languages), and all
answers without the similarity and the no-answer term (for other embedders).

Collected through the Session as shipped (its calibration picks the read that answers; READER_SURE) but
with no floor, so that answers below it are fitted too; refit whenever the reader or the reading policy
changes.

Fitted on KorQuAD questions of the reader's TRAINING articles (qa/weights/split.json), open-domain through
the real Session; every third one is asked with its own article left out of the index (the archive does
not hold the answer). With ``--extra-questions`` (our English questions over training paragraphs,
bench/data/), a sample of those is asked the same way. Never the held-out articles that `qa eval --split`
scores, nor the public gold. The reader has seen these articles, so it is more often right here than on
new text.

    python bench/reader_calibration.py [--sample 600] [--seed 7] [--extra-questions bench/data/en_questions_korquad_train.jsonl --extra-sample 200] [--rows FILE]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.calibrate import KORQUAD, _read, _restricted, fit_logistic, sentence_similarities  # noqa: E402
from qa.answer import DEFAULT_DECLINE_THRESHOLD  # noqa: E402
from qa.evaluate import korquad_f1, load_gold, max_over_golds, prepare_korquad_index  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.reader import load_reader  # noqa: E402
from qa.session import (E5_READER_CALIBRATION, ReaderCalibration, Session, calibrated_confidence,  # noqa: E402
                        reader_features, update_index)

SPLIT = ROOT / "qa" / "weights" / "split.json"


def extra_questions(path: Path, held: set[int]) -> list[SimpleNamespace]:
    return [SimpleNamespace(question=r["question"], answers=[r["answer"]], doc=r["doc"]) for r in _read(path)
            if int(r["doc"][2:5]) not in held]


class _RecordingCalibration:
    """The shipped calibration, remembering (support, rank, similarity, confidence, no-answer probability) of
    each read of a question."""

    def __init__(self, calibration: ReaderCalibration):
        self.calibration, self.reads = calibration, []

    def confidence(self, support: float, rank: int, similarity: float, same_language: bool,
                   no_answer: float | None = None) -> float:
        confidence = self.calibration.confidence(support, rank, similarity, same_language, no_answer)
        self.reads.append((support, rank, similarity, confidence, no_answer))
        return confidence


def collect(sample: int, seed: int, extras: list[Path] = (), extra_sample: int = 0, own: list[Path] = ()) -> list[dict]:
    embedder = load_embedder()
    reader = load_reader()
    gold = load_gold(KORQUAD, "korquad")
    held = set(json.loads(SPLIT.read_text(encoding="utf-8"))["held_out"]["articles"])
    pool = [q for q in gold.questions if int(q.doc[2:5]) not in held]
    asked = [(q, "korquad") for q in random.Random(seed).sample(pool, min(sample, len(pool)))]
    for extra in extras:
        extra_pool = extra_questions(extra, held)
        asked += [(q, extra.stem) for q in random.Random(seed).sample(extra_pool, min(extra_sample, len(extra_pool)))]
    # The Session reads as shipped (its calibration decides which read answers) but with no floor, so that
    # low-confidence answers are fitted too; the recorder keeps the raw support of every read, so the fit
    # maps the support of the read that answered.
    recorder = _RecordingCalibration(E5_READER_CALIBRATION)
    session = Session(Path(prepare_korquad_index(gold, embedder).path), embedder, sources=(), reader=reader,
                      decline_threshold=0.0, reader_floor=0.0)
    session.reader_calibration = recorder
    rows = _ask(session, recorder, asked, lambda q: q.doc[:5])  # 'kq007' of paragraph 'kq007-06'
    for path in own:
        rows += _ask(_own_session(path, embedder, reader, recorder), recorder, _own_questions(path),
                     lambda q: q.doc)
    return rows


def _own_questions(path: Path) -> list[tuple[SimpleNamespace, str]]:
    return [(SimpleNamespace(question=r["question"], answers=[r["answer"]], doc=r["pid"]), path.stem) for r in _read(path)]


def _own_session(path: Path, embedder, reader, recorder) -> Session:
    """A Session over our own paragraphs (bench/data/own_*_paragraphs.jsonl), one article each: text the
    reader never trained on."""
    folder = Path(tempfile.mkdtemp(prefix="qa-calibration-own-"))
    for pid, context in {r["pid"]: r["context"] for r in _read(path)}.items():
        (folder / f"{pid}.txt").write_text(context + "\n", encoding="utf-8")
    update_index([str(folder)], folder / "index", embedder)
    session = Session(folder / "index", embedder, sources=(), reader=reader, decline_threshold=0.0, reader_floor=0.0)
    session.reader_calibration = recorder
    return session


def _ask(session: Session, recorder: _RecordingCalibration, asked: list, article_of) -> list[dict]:
    """Rows of the reader's answers to ``asked`` (question, source); every third is asked with its own
    article (``article_of(question)``, a doc id prefix) left out of the index."""
    full = session.index
    rows = []
    for i, (q, source) in enumerate(asked):
        unanswerable = i % 3 == 2
        article = article_of(q)
        session.index = _restricted(full, lambda doc: not doc.startswith(article)) if unanswerable else full
        recorder.reads.clear()
        result = session.ask(q.question)
        if result.answered_by != "reader":
            continue
        # the read that answered: the one whose confidence the result reports
        support, rank, dense, no_answer = next((s, rank, dense, no_answer) for s, rank, dense, confidence, no_answer
                                               in recorder.reads if round(confidence, 4) == result.confidence)
        passage = result.passages[rank]
        at_answer, best_sentence = sentence_similarities(session.index, passage.chunk, result.citation.start,
                                                         session.embedder.embed_queries([q.question])[0])
        rows.append({"support": support, "rank": rank, "dense": dense, "no_answer": no_answer,
                     "sentence_dense": at_answer, "best_sentence_dense": best_sentence,
                     "same_language": passage.lang == result.language, "lang": result.language, "unans": unanswerable,
                     # not fitted: kept to test other features (a short question has a lower cosine to any chunk)
                     "top_dense": result.passages[0].dense, "question_chars": len(q.question), "question": q.question,
                     "source": source,
                     "right": not unanswerable and max_over_golds(korquad_f1, result.answer, q.answers) >= 0.5})
    session.index = full
    return rows


def reliability(confidences, rights, bins: int = 5) -> tuple[list[str], float]:
    lines, error = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(c, r) for c, r in zip(confidences, rights) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if inside:
            mean_c = sum(c for c, _ in inside) / len(inside)
            accuracy = sum(r for _, r in inside) / len(inside)
            error += len(inside) / len(confidences) * abs(mean_c - accuracy)
            lines.append(f"  {low:.1f}-{high:.1f}: {len(inside):4d} answers, mean confidence {mean_c:.3f}, right {accuracy:.3f}")
    return lines, error


def _features(row: dict, with_similarity: bool) -> tuple[float, ...]:
    """The calibration's features of a row: with the similarity, also the no-answer probability."""
    if not with_similarity:
        return reader_features(row["support"], row["rank"])
    return reader_features(row["support"], row["rank"], row["dense"], row["no_answer"])


def _summary(calibration, rows: list[dict], with_similarity: bool) -> str:
    fitted = [calibrated_confidence(calibration, r["support"], r["rank"], r["dense"] if with_similarity else None,
                                    r["no_answer"] if with_similarity else None) for r in rows]
    lines, error = reliability(fitted, [float(r["right"]) for r in rows])
    below = [f < DEFAULT_DECLINE_THRESHOLD for f in fitted]
    return (f"ECE {error:.3f}; below the decline floor: "
            f"{sum(d for d, r in zip(below, rows) if r['unans'])} of {sum(r['unans'] for r in rows)} answers "
            f"without their article, {sum(d for d, r in zip(below, rows) if r['right'])} of "
            f"{sum(r['right'] for r in rows)} right answers\n" + "\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--extra-questions", type=Path, action="append", default=[],
                        help="our own questions over KorQuAD training paragraphs (JSONL: doc, question, answer); repeatable")
    parser.add_argument("--extra-sample", type=int, default=200, help="questions sampled from each --extra-questions file")
    parser.add_argument("--own-paragraphs", type=Path, action="append", default=[],
                        help="our own paragraphs with questions (JSONL: pid, question, answer, context), each an article; repeatable")
    parser.add_argument("--fit-on", default=None,
                        help="comma-separated sources to fit on ('korquad', a file's stem); default: every row")
    parser.add_argument("--rows", type=Path, default=None, help="reuse (or write) the collected rows here")
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        rows = collect(args.sample, args.seed, args.extra_questions, args.extra_sample, args.own_paragraphs)
        if args.rows:
            args.rows.write_text(json.dumps(rows), encoding="utf-8")
    if args.fit_on:
        rows = [r for r in rows if r.get("source", "korquad") in args.fit_on.split(",")]
    y = np.array([float(r["right"]) for r in rows])
    print(f"{len(rows)} reader answers, {sum(r['unans'] for r in rows)} of them to questions whose article "
          "was left out; in-sample:")
    lines, error = reliability([r["support"] for r in rows], y.tolist())
    print(f"raw support: ECE {error:.3f}\n" + "\n".join(lines))
    fits = {}
    for name, keep, with_similarity in (
            ("READER_CALIBRATION", lambda r: r["same_language"], True),
            ("READER_CALIBRATION_CROSS_LANGUAGE", lambda r: not r["same_language"], True),
            ("READER_CALIBRATION_ANY_EMBEDDER", lambda r: True, False)):
        fit_rows = [r for r in rows if keep(r)]
        if len({r["right"] for r in fit_rows}) < 2:
            print(f"{name}: too few answers to fit ({len(fit_rows)})")
            continue
        y = np.array([float(r["right"]) for r in fit_rows])
        x = np.array([_features(r, with_similarity) for r in fit_rows])
        weights, intercept = fit_logistic(x, y)
        fits[name] = calibration = (*weights.tolist(), intercept)
        print(f"{name}, {len(fit_rows)} answers: " + _summary(calibration, fit_rows, with_similarity))
        print(f"{name} = ({', '.join(f'{w:.4f}' for w in calibration)})")
    cross = [r for r in rows if not r["same_language"]]
    if cross and "READER_CALIBRATION_ANY_EMBEDDER" in fits:
        print("cross-language answers under READER_CALIBRATION_ANY_EMBEDDER: "
              + _summary(fits["READER_CALIBRATION_ANY_EMBEDDER"], cross, False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
