"""Retrieval across languages: English questions over the Korean paragraphs of KorQuAD v1.0 dev (all 964 in
the index `qa eval --format korquad` caches), under the fusion's cross-language weights.

A chunk's dense score mixes the cosine of the whole chunk with that of its best sentence
(qa/retrieve.py SENTENCE_WEIGHT) and adds BM25 (LEXICAL_WEIGHT); this sweeps both cross-language weights.
Chosen on our 900 English questions over paragraphs of the reader's training articles
(bench/data/en_questions_korquad_train.jsonl); reported also on our 59 English dev questions
(tests/data/dev/en_over_korquad.jsonl) and, for the same-language side, on 800 Korean KorQuAD questions of
the training articles. A question hits when a retrieved chunk comes from its paragraph and holds the answer.

    python bench/crosslingual_retrieval.py
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.calibrate import DEV, KORQUAD, _read  # noqa: E402
from qa.evaluate import load_gold, prepare_korquad_index  # noqa: E402
from qa.index import load_index  # noqa: E402
from qa.ingest import detect_language  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.retrieve import LEXICAL_WEIGHT, SENTENCE_WEIGHT, chunk_scores, fuse, query_terms  # noqa: E402

SPLIT = ROOT / "qa" / "weights" / "split.json"
SENTENCE_WEIGHTS = [0.0, 0.25, 0.35, 0.5, 0.65]
LEXICAL_WEIGHTS = [0.05, 0.1]
KOREAN_SAMPLE = 800


def hits(index, scores, questions, paragraph_of=lambda index, chunk: index.chunks[chunk].doc_id) -> tuple[float, float]:
    """(hit@1, hit@5): a retrieved chunk of the question's paragraph ``doc`` (``paragraph_of`` a chunk) holds
    an answer."""
    first = top5 = 0
    for question, score in zip(questions, scores):
        order = np.lexsort((np.arange(len(score)), -score))[:5]
        found = [rank for rank, i in enumerate(order) if paragraph_of(index, i) == question["doc"]
                 and any(answer in index.chunks[i].text for answer in question["answers"])]
        first += bool(found and found[0] == 0)
        top5 += bool(found)
    return first / len(questions), top5 / len(questions)


def main() -> int:
    embedder = load_embedder()
    gold = load_gold(KORQUAD, "korquad")
    index = load_index(Path(prepare_korquad_index(gold, embedder).path), embedder.info)
    held = set(json.loads(SPLIT.read_text(encoding="utf-8"))["held_out"]["articles"])
    sets = {
        "en train (choice)": [dict(r, answers=[r["answer"]]) for r in _read(ROOT / "bench/data/en_questions_korquad_train.jsonl")],
        "en dev": _read(DEV / "en_over_korquad.jsonl"),
        "ko train": [{"doc": q.doc, "question": q.question, "answers": q.answers} for q in random.Random(3).sample(
            [q for q in gold.questions if int(q.doc[2:5]) not in held], KOREAN_SAMPLE)],
    }
    evidence = {}
    every_sentence = {True: 1.0, False: 1.0}  # best-sentence scores for every chunk, to fuse under any weights
    for name, questions in sets.items():
        vectors = embedder.embed_queries([q["question"] for q in questions])
        evidence[name] = [chunk_scores(index, vector, query_terms(q["question"], index.vocabulary),
                                       detect_language(q["question"]), every_sentence)
                          for q, vector in zip(questions, vectors)]
    results = {}
    for sentence in SENTENCE_WEIGHTS:
        for lexical in LEXICAL_WEIGHTS:
            weights = ({True: SENTENCE_WEIGHT[True], False: sentence}, {True: LEXICAL_WEIGHT[True], False: lexical})
            line = []
            for name, questions in sets.items():
                results[(sentence, lexical, name)] = hit = hits(index, [fuse(s, *weights) for s in evidence[name]], questions)
                line.append(f"{name}: hit@1 {hit[0]:.3f} hit@5 {hit[1]:.3f}")
            print(f"cross-language sentence {sentence:<4} lexical {lexical:<4} " + "  ".join(line))
    chosen = max(((s, w) for s in SENTENCE_WEIGHTS for w in LEXICAL_WEIGHTS),
                 key=lambda sw: (results[(*sw, "en train (choice)")][1], results[(*sw, "en train (choice)")][0]))
    print(f"chosen (hit@5, then hit@1, on 'en train'): SENTENCE_WEIGHT[False] = {chosen[0]}, LEXICAL_WEIGHT[False] = {chosen[1]}")
    same = {True: 0.25, False: SENTENCE_WEIGHT[False]}
    korean = [fuse(s, same) for s in evidence["ko train"]]
    print(f"same language with SENTENCE_WEIGHT[True] = 0.25 instead of {SENTENCE_WEIGHT[True]}: ko train hit@1/5 "
          f"{hits(index, korean, sets['ko train'])} vs {hits(index, [fuse(s) for s in evidence['ko train']], sets['ko train'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
