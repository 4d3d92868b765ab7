"""Fit the answer confidence (qa/answer.py CONFIDENCE_COEFFICIENTS / _INTERCEPT) and the decline threshold.

Every dev question goes through the real pipeline (Session: retrieve → evidence → extract_answer) over
two archives, and the features of the chosen span are kept:

* KorQuAD v1.0 dev, restricted to its first 70 articles (the cached `qa eval` index, with the other
  paragraphs masked out): a sample of its Korean questions, our English questions
  (tests/data/dev/en_over_korquad.jsonl), and questions of articles 70-139 in Korean and English, which
  the restricted archive cannot answer (tests/data/dev/unanswerable_korquad70.jsonl);
* seeds/ plus two English articles (tests/data/dev/en_news*.txt): Korean and English questions with
  and without an answer there, and Korean questions over the English articles
  (tests/data/dev/seeds_en_archive.jsonl).

Target: char-F1 >= 0.5 for an answerable question, 0 for an unanswerable one. A logistic regression
(plain numpy, Newton steps, small L2 on standardised features) is fitted on ~70 % of each set (split by a
hash of the question id); the threshold maximising correct answers + correct declines is chosen on
the same part; the held-out ~30 % is reported.

    python bench/calibrate.py                      # collect (~10 min) and fit
    python bench/calibrate.py --rows rows.jsonl    # fit again from collected rows (seconds)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qa.session  # noqa: E402
from qa.answer import CONFIDENCE_EMBEDDER, CONFIDENCE_FEATURES, extract_answer  # noqa: E402
from qa.evaluate import korquad_f1, load_gold, max_over_golds, prepare_korquad_index  # noqa: E402
from qa.models import load_embedder  # noqa: E402

KORQUAD = ROOT.parent / "shared/data/korquad/KorQuAD_v1.0_dev.json"
DEV = ROOT / "tests/data/dev"
KOREAN_SAMPLE = 120  # Korean KorQuAD questions from the first 70 articles
FIRST_ARTICLES = 70
HELD_OUT = 3  # of 10 hash buckets
L2 = 1.0


# --- collecting -------------------------------------------------------------------------------------------

class _Recorder:
    """Wraps session.extract_answer: passes the index vocabulary if Session does not yet, keeps the span."""

    def __init__(self, embedder: str):
        self.vocabulary = None
        self.embedder = embedder
        self.span = None

    def __call__(self, analysis, evidence, *args, **kwargs):
        kwargs.setdefault("vocabulary", self.vocabulary)
        kwargs.setdefault("embedder", self.embedder)
        self.span = extract_answer(analysis, evidence, *args, **kwargs)
        return self.span


def _restricted(index, keep):
    """The index with only the chunks of articles ``keep(doc_id)`` accepts (sentences stay addressable)."""
    rows = [i for i, c in enumerate(index.chunks) if keep(c.doc_id)]
    return replace(index, chunks=[index.chunks[i] for i in rows], chunk_vectors=index.chunk_vectors[rows],
                   chunk_terms=[index.chunk_terms[i] for i in rows], _faiss=None, _bm25=None,
                   _chunk_sentences=None, _names=None)


def sentence_similarities(index, chunk, offset: int, query_vector) -> tuple[float, float]:
    """(cosine of the question and the sentence of ``chunk`` holding ``offset``, the best cosine of any
    sentence of ``chunk``): recorded with reads to test them as calibration features."""
    cosines = {sid: float(index.sentence_vectors[sid] @ query_vector) for sid in chunk.sentence_ids}
    best = max(cosines.values())
    at = next((sid for sid in chunk.sentence_ids
               if index.sentences[sid].start <= offset < index.sentences[sid].end), None)
    return (best if at is None else cosines[at]), best


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ask_all(session, recorder, questions: list[dict], archive: str) -> list[dict]:
    recorder.vocabulary = session.index.vocabulary
    rows = []
    for q in questions:
        recorder.span = None
        session.ask(q["question"], k=5)
        span = recorder.span
        answerable = bool(q["answers"])
        f1 = max_over_golds(korquad_f1, span.text if span else None, q["answers"]) if answerable and span else 0.0
        rows.append({
            "id": q["id"], "set": q["set"], "lang": q["lang"], "archive": archive, "question": q["question"],
            "answers": q["answers"], "answerable": answerable, "prediction": span.text if span else None,
            "f1": f1, "em": float(answerable and span is not None and any(
                korquad_f1(span.text, g) == 1.0 for g in q["answers"])),
            "features": span.features if span else None,
        })
    return rows


def collect(korquad_index: Path | None = None) -> list[dict]:
    embedder = load_embedder()
    if embedder.info.name != CONFIDENCE_EMBEDDER:
        raise SystemExit(f"the default embedder is {embedder.info.name}; qa/answer.py says {CONFIDENCE_EMBEDDER}")
    recorder = _Recorder(embedder.info.name)
    qa.session.extract_answer = recorder

    gold = load_gold(KORQUAD, "korquad")
    if korquad_index is None:
        korquad_index = Path(prepare_korquad_index(gold, embedder).path)  # the `qa eval` cache; builds if missing
    session = qa.session.Session(korquad_index, embedder, sources=(), decline_threshold=0.0)
    session.index = _restricted(session.index, lambda doc: int(doc[2:5]) < FIRST_ARTICLES)
    korean = sorted((q for q in gold.questions if int(q.doc[2:5]) < FIRST_ARTICLES), key=lambda q: q.id)
    korean = random.Random(0).sample(korean, KOREAN_SAMPLE)
    questions = [{"id": q.id, "set": "ko-korquad", "lang": "ko", "question": q.question, "answers": q.answers}
                 for q in korean]
    questions += [dict(q, set="en-korquad") for q in _read(DEV / "en_over_korquad.jsonl")]
    questions += [dict(q, set=f"{q['lang']}-unanswerable-korquad") for q in _read(DEV / "unanswerable_korquad70.jsonl")]
    started = time.perf_counter()
    rows = _ask_all(session, recorder, questions, "korquad-first70")
    print(f"korquad: {len(rows)} questions in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    seeds_dir = Path("/tmp/qa-calibrate-seeds-en")
    qa.session.update_index([str(ROOT / "seeds"), str(DEV / "en_news1.txt"), str(DEV / "en_news2.txt")],
                            seeds_dir, embedder)
    session = qa.session.Session(seeds_dir, embedder, sources=(), decline_threshold=0.0)
    questions = []
    for q in _read(DEV / "seeds_en_archive.jsonl"):
        kind = "ko-over-en" if q["id"].startswith("ko-over-en") else (
            f"{q['lang']}-{'unanswerable-' if not q['answers'] else ''}seeds")
        questions.append(dict(q, set=kind))
    rows += _ask_all(session, recorder, questions, "seeds+en")
    return rows


# --- fitting ----------------------------------------------------------------------------------------------

def held_out(row: dict) -> bool:
    return int(hashlib.sha256(row["id"].encode()).hexdigest(), 16) % 10 < HELD_OUT


def target(row: dict) -> float:
    return float(row["answerable"] and row["f1"] >= 0.5)


# Without a known cosine scale (another embedder) the confidence is a second fit without the similarity.
FALLBACK_FEATURES = tuple(name for name in CONFIDENCE_FEATURES if name != "similarity")


def matrix(rows: list[dict], features: tuple[str, ...] = CONFIDENCE_FEATURES) -> np.ndarray:
    return np.array([[r["features"][name] for name in features] for r in rows], dtype=np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> tuple[np.ndarray, float]:
    """Weights and intercept on the raw features; L2 on the standardised ones, none on the intercept."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + penalty * w
        hessian = z.T @ (z * (p * (1 - p))[:, None]) + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    weights = w[1:] / std
    return weights, float(w[0] - (weights * mean).sum())


def confidences(rows: list[dict], weights: np.ndarray, intercept: float,
                features: tuple[str, ...] = CONFIDENCE_FEATURES) -> np.ndarray:
    return 1 / (1 + np.exp(-(matrix(rows, features) @ weights + intercept)))


def outcome(rows: list[dict], conf: np.ndarray, threshold: float) -> dict:
    answered = conf >= threshold
    good = np.array([target(r) for r in rows]) == 1
    unanswerable = np.array([not r["answerable"] for r in rows])
    correct = (answered & good) | (~answered & unanswerable)
    declined = ~answered
    answered_ok = answered & ~unanswerable
    f1 = np.array([r["f1"] for r in rows])
    em = np.array([r["em"] for r in rows])
    return {
        "n": len(rows),
        "correct": int(correct.sum()),
        "accuracy": correct.mean() if len(rows) else None,
        "answered": int(answered.sum()),
        "em_answered": em[answered_ok].mean() if answered_ok.any() else None,
        "f1_answered": f1[answered_ok].mean() if answered_ok.any() else None,
        "decline_precision": unanswerable[declined].mean() if declined.any() else None,
        "decline_recall": declined[unanswerable].mean() if unanswerable.any() else None,
        # counting a declined wrong answer (F1 < 0.5) to an answerable question as a right decline too
        "decline_precision_any": (~good)[declined].mean() if declined.any() else None,
        "decline_recall_any": declined[~good].mean() if (~good).any() else None,
        "declined_answerable_right": int((declined & good).sum()),
        "answered_unanswerable": int((answered & unanswerable).sum()),
    }


def choose_threshold(rows: list[dict], conf: np.ndarray) -> float:
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    best = max(grid, key=lambda t: (outcome(rows, conf, t)["correct"], -abs(t - 0.5)))
    return float(best)


def reliability(rows: list[dict], conf: np.ndarray, bins: int = 5) -> list[tuple]:
    y = np.array([target(r) for r in rows])
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        mask = (conf >= low) & ((conf < high) if b < bins - 1 else (conf <= high))
        table.append((low, high, int(mask.sum()), conf[mask].mean() if mask.any() else None,
                      y[mask].mean() if mask.any() else None))
    return table


def _fmt(value) -> str:
    return "   -" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def report(rows: list[dict], weights, intercept, threshold, label: str,
           features: tuple[str, ...] = CONFIDENCE_FEATURES) -> None:
    conf = confidences(rows, weights, intercept, features)
    print(f"\n== {label}: {len(rows)} questions, threshold {threshold:.2f}")
    whole = outcome(rows, conf, threshold)
    print("  all: " + ", ".join(f"{k}={_fmt(v)}" for k, v in whole.items()))
    for name in sorted({r["set"] for r in rows}):
        part = [i for i, r in enumerate(rows) if r["set"] == name]
        o = outcome([rows[i] for i in part], conf[part], threshold)
        print(f"  {name:28s} n={o['n']:3d} correct={o['correct']:3d} answered={o['answered']:3d} "
              f"EM/F1 answered={_fmt(o['em_answered'])}/{_fmt(o['f1_answered'])} "
              f"mean conf={conf[part].mean():.3f} P(F1>=.5)={np.mean([target(rows[i]) for i in part]):.3f}")
    print("  reliability (bin: count, mean confidence, accuracy)")
    for low, high, count, mean, accuracy in reliability(rows, conf):
        print(f"    [{low:.1f}, {high:.1f}{']' if high == 1 else ')'}: {count:4d}  {_fmt(mean)}  {_fmt(accuracy)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=Path, help="collected rows (JSON lines) to fit from; collect if missing")
    parser.add_argument("--save", type=Path, default=Path("/tmp/qa-calibrate-rows.jsonl"))
    parser.add_argument("--korquad-index", type=Path, help="an index of every KorQuAD v1.0 dev paragraph "
                        "(default: the `qa eval` cache, built there if missing: ~40 min)")
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = _read(args.rows)
    else:
        rows = collect(args.korquad_index)
        args.save.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"rows saved to {args.save}", file=sys.stderr)
    rows = [r for r in rows if r["features"] is not None]
    train = [r for r in rows if not held_out(r)]
    test = [r for r in rows if held_out(r)]
    weights, intercept = fit_logistic(matrix(train), np.array([target(r) for r in train]))
    threshold = choose_threshold(train, confidences(train, weights, intercept))
    print("CONFIDENCE_COEFFICIENTS = {")
    for name, w in zip(CONFIDENCE_FEATURES, weights):
        print(f'    "{name}": {w:.4f},')
    print("}")
    print(f"CONFIDENCE_INTERCEPT = {intercept:.4f}")
    print(f"DEFAULT_DECLINE_THRESHOLD = {threshold:.2f}")
    fallback, fallback_intercept = fit_logistic(matrix(train, FALLBACK_FEATURES), np.array([target(r) for r in train]))
    print("FALLBACK_COEFFICIENTS = {")
    for name in CONFIDENCE_FEATURES:
        w = dict(zip(FALLBACK_FEATURES, fallback)).get(name, 0.0)
        print(f'    "{name}": {w:.4f},')
    print("}")
    print(f"FALLBACK_INTERCEPT = {fallback_intercept:.4f}")
    report(train, weights, intercept, threshold, "fitted part")
    report(test, weights, intercept, threshold, "held-out part")
    report(test, fallback, fallback_intercept, threshold, "held-out part, fallback (no similarity)", FALLBACK_FEATURES)


if __name__ == "__main__":
    main()
