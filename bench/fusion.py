"""Measure retrieval on KorQuAD v1.0 dev: dense alone, BM25 alone, naive RRF, and our weighted fusion.

A question hits when a retrieved chunk comes from its gold paragraph and contains a gold answer.
Weights are chosen on the first half of the articles and reported on the second half, so the
figure in the README is not fitted to the questions it is reported on.

    python bench/fusion.py [--limit N]      # uses (or builds) the index `qa eval --format korquad` caches
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.evaluate import load_gold, prepare_korquad_index  # noqa: E402
from qa.index import load_index  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.retrieve import query_terms  # noqa: E402

KORQUAD = Path(__file__).resolve().parent.parent.parent / "shared/data/korquad/KorQuAD_v1.0_dev.json"


def ranks(index, scores: np.ndarray, question: dict, k: int = 10) -> int | None:
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    for rank, i in enumerate(order, start=1):
        chunk = index.chunks[i]
        if chunk.doc_id == question["doc"] and any(ans in chunk.text for ans in question["answers"]):
            return rank
    return None


def report(name: str, found: list[int | None]) -> str:
    n = len(found)
    hit1 = sum(r == 1 for r in found) / n
    hit5 = sum(r is not None and r <= 5 for r in found) / n
    mrr = sum(1 / r for r in found if r) / n
    return f"{name:<28} hit@1 {hit1:6.1%}  hit@5 {hit5:6.1%}  MRR@10 {mrr:.3f}  (n={n})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    embedder = load_embedder()
    gold = load_gold(KORQUAD, "korquad")
    # "article" (kq000, kq001, ...) splits tuning from held-out questions by Wikipedia article.
    questions = [{"article": q.doc.split("-")[0], "doc": q.doc, "question": q.question, "answers": q.answers}
                 for q in gold.questions]
    started = time.perf_counter()
    built = prepare_korquad_index(gold, embedder)
    print(f"index: {time.perf_counter() - started:.1f} s ({'reused' if built.reused else 'built'})")
    index = load_index(Path(built.path), embedder.info)
    bm25 = index.bm25()
    if args.limit:
        questions = questions[: args.limit]
    dense_all, lexical_all = [], []
    for q in questions:
        vector = embedder.embed_queries([q["question"]])[0]
        dense = index.chunk_vectors @ vector
        lexical = bm25.scores(query_terms(q["question"], index.vocabulary))
        dense_all.append(dense)
        lexical_all.append(lexical)
    half = len({q["article"] for q in questions}) // 2
    articles = sorted({q["article"] for q in questions})
    tune = [i for i, q in enumerate(questions) if q["article"] in set(articles[:half])]
    test = [i for i, q in enumerate(questions) if q["article"] not in set(articles[:half])]

    def fused(i: int, weight: float) -> np.ndarray:
        dense, lexical = dense_all[i], lexical_all[i]
        low, high = dense.min(), dense.max()
        dense = (dense - low) / (high - low) if high > low else dense * 0
        top = lexical.max()
        lexical = lexical / top if top > 0 else lexical
        return (1 - weight) * dense + weight * lexical

    def rrf(i: int) -> np.ndarray:
        out = np.zeros(len(index.chunks))
        for scores in (dense_all[i], lexical_all[i]):
            order = np.lexsort((np.arange(len(scores)), -scores))
            out[order] += 1 / (60 + np.arange(1, len(scores) + 1))
        return out

    best = max((sum(ranks(index, fused(i, w), questions[i]) == 1 for i in tune), w) for w in np.arange(0.0, 1.01, 0.05))
    weight = round(float(best[1]), 2)
    print(f"weight chosen on the first {half} articles ({len(tune)} questions): {weight}")
    for name, subset in (("tuning half", tune), ("held-out half", test)):
        print(f"-- {name}")
        print(report("dense (e5-small q4)", [ranks(index, dense_all[i], questions[i]) for i in subset]))
        print(report("bm25 (kiwi morphemes)", [ranks(index, lexical_all[i], questions[i]) for i in subset]))
        print(report("naive RRF (k=60)", [ranks(index, rrf(i), questions[i]) for i in subset]))
        print(report(f"weighted fusion w={weight}", [ranks(index, fused(i, weight), questions[i]) for i in subset]))


if __name__ == "__main__":
    main()
