"""Fit the map from the reader's support to the confidence `qa` reports (qa/session.py READER_CALIBRATION).

Read one chunk at a time, the reader's support is over-confident (held-out answers at 0.8-1.0 are right
84 % of the time at a mean of 0.986): Platt scaling, a logistic regression of "right" (KorQuAD F1 >= 0.5)
on logit(support) and the rank of the chunk that answered (0: the best retrieved), refits it.

Fitted on KorQuAD questions of the reader's TRAINING articles (qa/weights/split.json), open-domain through
the real Session; never on the held-out articles that `qa eval --split` scores, nor the public gold. The
reader has seen these articles, so it is more often right here than on new text: the fitted map is still
somewhat optimistic, which the held-out reliability table shows.

    python bench/reader_calibration.py [--sample 500] [--seed 3]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.calibrate import KORQUAD, fit_logistic  # noqa: E402
from qa.evaluate import korquad_f1, load_gold, max_over_golds, prepare_korquad_index  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.reader import load_reader  # noqa: E402
from qa.session import Session, reader_features  # noqa: E402

SPLIT = ROOT / "qa" / "weights" / "split.json"


def collect(sample: int, seed: int) -> list[dict]:
    embedder = load_embedder()
    reader = load_reader()
    gold = load_gold(KORQUAD, "korquad")
    held = set(json.loads(SPLIT.read_text(encoding="utf-8"))["held_out"]["articles"])
    pool = [q for q in gold.questions if int(q.doc[2:5]) not in held]
    reads = []
    original_read = reader.read

    def read(*args, **kwargs):
        reads.append(1)
        return original_read(*args, **kwargs)

    reader.read = read
    # no calibration: the confidence of a reader answer is then its raw support
    session = Session(Path(prepare_korquad_index(gold, embedder).path), embedder, sources=(), reader=reader,
                      reader_calibration=None)
    rows = []
    for q in random.Random(seed).sample(pool, min(sample, len(pool))):
        reads.clear()
        result = session.ask(q.question)
        if result.answered_by == "reader":
            rows.append({"support": result.confidence, "rank": len(reads) - 1,
                         "right": max_over_golds(korquad_f1, result.answer, q.answers) >= 0.5})
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--rows", type=Path, default=None, help="reuse (or write) the collected rows here")
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        rows = collect(args.sample, args.seed)
        if args.rows:
            args.rows.write_text(json.dumps(rows), encoding="utf-8")
    x = np.array([reader_features(r["support"], r["rank"]) for r in rows])
    y = np.array([float(r["right"]) for r in rows])
    weights, intercept = fit_logistic(x, y)
    fitted = [1 / (1 + math.exp(-(float(weights @ f) + intercept))) for f in x]
    for name, confidences in (("raw support", [r["support"] for r in rows]), ("fitted", fitted)):
        lines, error = reliability(confidences, y.tolist())
        print(f"{name}: ECE {error:.3f} on {len(rows)} reader answers (in-sample)")
        print("\n".join(lines))
    print(f"READER_CALIBRATION = ({weights[0]:.4f}, {weights[1]:.4f}, {intercept:.4f})  "
          "# logit(support), rank of the answering chunk, intercept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
