"""Retrieval in an archive of two languages: does a question find its paragraph when chunks in the other
language compete with chunks in its own?

e5's cosine runs lower across languages, and BM25 only matches within one, so in a mixed archive a chunk in
the question's language wins over an equally relevant one in the other language. qa/retrieve.py
CROSS_LANGUAGE_DENSE_BONUS adds a constant, by the question's language, to the dense score of other-language
chunks before the fusion scales it; this sweeps it for each question language.

Archive (built once under /tmp/qa-mixed-retrieval): our 100 English paragraphs (bench/data/
own_en_paragraphs.jsonl) and the 300 Korean KorQuAD paragraphs of the reader's training articles that our
English questions are about (bench/data/en_questions_korquad_train.jsonl), one article each. Questions:
our 200 Korean questions over the English paragraphs, our 100 English ones over them, our 900 English
questions over the Korean paragraphs and the KorQuAD Korean questions of those paragraphs. Training data
only: never the gold sets or KorQuAD's held-out articles. A question hits when a retrieved chunk comes from
its paragraph and holds the answer.

    python bench/mixed_retrieval.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.calibrate import KORQUAD, _read  # noqa: E402
from bench.crosslingual_retrieval import hits  # noqa: E402
from qa.evaluate import korquad_doc_id  # noqa: E402
from qa.index import load_index  # noqa: E402
from qa.ingest import detect_language  # noqa: E402
from qa.models import load_embedder  # noqa: E402
from qa.retrieve import CROSS_LANGUAGE_DENSE_BONUS, chunk_scores, fuse, query_terms  # noqa: E402
from qa.session import update_index  # noqa: E402

WORK = Path("/tmp/qa-mixed-retrieval")
BONUSES = [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1]


def build_archive(embedder):
    corpus = WORK / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    english = _read(ROOT / "bench/data/en_questions_korquad_train.jsonl")
    korquad = json.loads(KORQUAD.read_text(encoding="utf-8"))["data"]
    contexts = {korquad_doc_id(a, p): paragraph["context"] for a, article in enumerate(korquad)
                for p, paragraph in enumerate(article["paragraphs"])}
    questions = {"ko over en": [], "en over en": [], "en over ko": [], "ko over ko": []}
    for doc in dict.fromkeys(r["doc"] for r in english):
        (corpus / f"{doc}.txt").write_text(contexts[doc], encoding="utf-8")
    for r in english:
        questions["en over ko"].append({"doc": r["doc"], "question": r["question"], "answers": [r["answer"]]})
    for a, article in enumerate(korquad):
        for p, paragraph in enumerate(article["paragraphs"]):
            if (corpus / f"{korquad_doc_id(a, p)}.txt").exists():
                questions["ko over ko"] += [{"doc": korquad_doc_id(a, p), "question": q["question"],
                                             "answers": [x["text"] for x in q["answers"]]} for q in paragraph["qas"]]
    for r in _read(ROOT / "bench/data/own_en_paragraphs.jsonl"):
        (corpus / f"own-{r['pid']}.txt").write_text(r["context"], encoding="utf-8")
        questions[f"{r['lang']} over en"].append({"doc": f"own-{r['pid']}", "question": r["question"],
                                                   "answers": [r["answer"]]})
    update_index([str(corpus)], WORK / "index", embedder)
    return load_index(WORK / "index", embedder.info), questions


def source_file(index, chunk: int) -> str:
    """The corpus file a chunk's article came from, without its suffix: our paragraph id."""
    return Path(index.articles[index.chunks[chunk].doc_id].source).stem


def main() -> int:
    embedder = load_embedder()
    index, questions = build_archive(embedder)
    evidence = {}
    for name, asked in questions.items():
        vectors = embedder.embed_queries([q["question"] for q in asked])
        evidence[name] = [chunk_scores(index, vector, query_terms(q["question"], index.vocabulary),
                                       detect_language(q["question"]), question=q["question"])
                          for q, vector in zip(asked, vectors)]
    print(f"archive: {len(index.articles)} articles, {len(index.chunks)} chunks; shipped {CROSS_LANGUAGE_DENSE_BONUS}")
    languages = [index.articles[doc].lang for doc in index.articles]
    share = {language: languages.count(language) / len(languages) for language in ("ko", "en")}
    chosen = {}
    for language in ("ko", "en"):
        directions = [name for name in questions if name.startswith(f"{language} over")]
        results = {}
        for bonus in BONUSES:
            line = []
            for name in directions:
                results[bonus, name] = hit = hits(index, [fuse(s, cross_language_bonus=bonus) for s in evidence[name]],
                                                  questions[name], source_file)
                line.append(f"{name} ({len(questions[name])}): {hit[0]:.3f} / {hit[1]:.3f}")
            print(f"{language} questions, bonus {bonus:<5} hit@1 / hit@5  " + "  ".join(line))
        # A direction counts as much as its chunks' language's share of the archive (a question's answer is
        # where the archive's text is: here 3 of 4 articles Korean); within it hit@1 and hit@5 count the
        # same (the reader reads up to 3 chunks).
        chosen[language] = max(BONUSES, key=lambda b: (round(sum(share[n.split(" over ")[1]] * sum(results[b, n])
                                                                  for n in directions), 6), -b))
    print(f"chosen CROSS_LANGUAGE_DENSE_BONUS = {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
