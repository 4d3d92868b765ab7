"""The romanized-name bridge (qa/names.py) in retrieval: English questions over Korean articles.

Sweeps NAME_WEIGHT (what the names an English question shares with a Korean chunk add to its fused score)
and NAME_DOCUMENT_WEIGHT (the same over the chunk's whole article) and chooses on our 900 English questions
over paragraphs of the reader's training articles of KorQuAD v1.0 dev (bench/data/en_questions_korquad_train.jsonl,
all 964 paragraphs in the index), by hit@1 then hit@5. Reported, not chosen on: our English questions over
our Korean news articles (tests/data/dev/ko_news.jsonl, in the archive bench/reader_threshold.py builds with
the seeds and our English articles: run it once first) and over held-out KorQuAD articles
(tests/data/dev/en_over_korquad.jsonl). A question hits when a retrieved chunk of its paragraph (news:
article) holds the answer. Also printed: the bridge's time per question.

    python bench/name_bridge.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.calibrate import DEV, KORQUAD, _read  # noqa: E402
from bench.crosslingual_retrieval import hits  # noqa: E402
from qa.evaluate import load_gold, prepare_korquad_index  # noqa: E402
from qa.index import load_index  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.retrieve import NAME_DOCUMENT_WEIGHT, NAME_WEIGHT, chunk_scores, fuse, query_terms  # noqa: E402

NEWS_INDEX = Path("/tmp/qa-threshold-news")  # bench/reader_threshold.py's news archive
NAME_WEIGHTS = [0.0, 0.05, 0.1, 0.2, 0.3]
DOCUMENT_WEIGHTS = [0.0, 0.5, 1.0]
CHOICE = "en train (choice)"


def evidence(index, embedder, questions, document_weight):
    vectors = embedder.embed_queries([q["question"] for q in questions])
    started = time.perf_counter()
    scores = [chunk_scores(index, v, query_terms(q["question"], index.vocabulary), "en", question=q["question"],
                           name_document_weight=document_weight) for q, v in zip(questions, vectors)]
    return scores, (time.perf_counter() - started) / len(questions)


def main() -> int:
    embedder = load_embedder()
    gold = load_gold(KORQUAD, "korquad")
    korquad = load_index(Path(prepare_korquad_index(gold, embedder).path), embedder.info)
    sets = {
        CHOICE: (korquad, [dict(r, answers=[r["answer"]]) for r in _read(ROOT / "bench/data/en_questions_korquad_train.jsonl")]),
        "en held-out KorQuAD (report)": (korquad, _read(DEV / "en_over_korquad.jsonl")),
    }
    if (NEWS_INDEX / "CURRENT").exists():
        sets["en news (report)"] = (load_index(NEWS_INDEX, embedder.info),
                                    [q for q in _read(DEV / "ko_news.jsonl") if q["lang"] == "en" and q["answers"]])
    else:
        print(f"no news archive at {NEWS_INDEX}: run bench/reader_threshold.py once to build it")
    news_paragraph = lambda index, chunk: Path(index.chunks[chunk].doc_id).stem.split("_")[0]  # noqa: E731
    results = {}
    for name, (index, questions) in sets.items():
        paragraph_of = news_paragraph if name.startswith("en news") else (lambda index, chunk: index.chunks[chunk].doc_id)
        index.names()  # built once per index, not timed per question
        for document_weight in DOCUMENT_WEIGHTS:
            scores, seconds = evidence(index, embedder, questions, document_weight)
            for weight in NAME_WEIGHTS:
                if weight == 0.0 and document_weight:
                    continue
                results[(name, weight, document_weight)] = hit = hits(
                    index, [fuse(s, name_weight=weight) for s in scores], questions, paragraph_of)
                print(f"{name:<30} name {weight:<4} document {document_weight:<3}  hit@1 {hit[0]:.3f}  hit@5 {hit[1]:.3f}"
                      f"  ({1000 * seconds:.1f} ms/question with the bridge)")
    candidates = [(w, d) for w in NAME_WEIGHTS for d in DOCUMENT_WEIGHTS if (CHOICE, w, d) in results]
    chosen = max(candidates, key=lambda wd: (results[(CHOICE, *wd)], -wd[0], -wd[1]))
    print(f"chosen on '{CHOICE}' (hit@1, then hit@5): NAME_WEIGHT = {chosen[0]}, NAME_DOCUMENT_WEIGHT = {chosen[1]} "
          f"(shipped: {NAME_WEIGHT}, {NAME_DOCUMENT_WEIGHT})")
    for name in sets:
        print(f"  {name}: without names {results[(name, 0.0, 0.0)]} -> chosen {results[(name, *chosen)]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
