"""Stage 5: find the passages for a question — dense (e5) and lexical (BM25) evidence, fused by language.

Fusion is a convex combination of normalised scores, not rank fusion: reciprocal-rank fusion throws away
how decisive each side was, which is what cost accuracy in our measurements (see README). The lexical
side only gets weight where it can mean something: a Korean question against a Korean chunk shares
morphemes; an English question against a Korean chunk shares only Latin tokens and digits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Container

import numpy as np

from .chunk import Chunk
from .embed import Embedder
from .index import Index, latin_terms
from .ingest import detect_language

# Weight of BM25 in the fused score, by whether question and chunk share a language. Chosen on KorQuAD
# dev by `bench/fusion.py` (see README); the cross-language weight stays small because only Latin
# words and numbers can match across scripts.
LEXICAL_WEIGHT = {True: 0.35, False: 0.1}
CANDIDATES = 100

_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
_LONGEST_TERM = 12


@dataclass
class Passage:
    chunk: Chunk
    title: str
    lang: str
    score: float  # fused, in [0, 1]
    dense: float  # cosine similarity of question and chunk
    lexical: float  # BM25 score divided by the best BM25 score in the collection for this question


@dataclass
class Retrieval:
    question: str
    language: str
    query_vector: np.ndarray
    terms: list[str]
    passages: list[Passage]


def query_terms(question: str, vocabulary: Container[str]) -> list[str]:
    """BM25 terms of a question without a morphological analyser (Kiwi costs seconds to load).

    Latin/digit runs are taken whole, as at indexing. Hangul runs are cut greedily into the longest
    terms the index knows: a term the index lacks could not score anyway, so segmenting against the
    index's own vocabulary loses nothing BM25 could use. One-syllable terms only at a word's start,
    so particles (이/가/의…) are not mistaken for nouns.
    """
    terms = latin_terms(question)
    for run in _HANGUL_RUN.finditer(question):
        word = run.group()
        word_start = run.start() == 0 or question[run.start() - 1].isspace()
        i = 0
        while i < len(word):
            for length in range(min(_LONGEST_TERM, len(word) - i), 0, -1):
                piece = word[i : i + length]
                if piece in vocabulary and (length > 1 or (i == 0 and word_start)):
                    terms.append(piece)
                    i += length
                    break
            else:
                i += 1
    return terms


def retrieve(index: Index, embedder: Embedder, question: str, k: int = 5) -> Retrieval:
    language = detect_language(question)
    query_vector = embedder.embed_queries([question])[0]
    dense = index.chunk_vectors @ query_vector
    terms = query_terms(question, index.vocabulary)
    lexical = np.zeros(len(index.chunks), dtype=np.float32)
    if terms:
        lexical = index.bm25().scores(terms)
        top = float(lexical.max())
        lexical = lexical / top if top > 0 else lexical
    low, high = float(dense.min()), float(dense.max())
    dense_scaled = (dense - low) / (high - low) if high > low else np.ones_like(dense)
    chunk_langs = [index.articles[c.doc_id].lang for c in index.chunks]
    weights = np.array([LEXICAL_WEIGHT[lang == language] for lang in chunk_langs], dtype=np.float32)
    fused = (1 - weights) * dense_scaled + weights * lexical
    # Stable sort on (-score, chunk id): equal scores always come out in the same order.
    order = np.lexsort((np.arange(len(fused)), -fused))[:k]
    passages = [
        Passage(
            chunk=index.chunks[i],
            title=index.articles[index.chunks[i].doc_id].title,
            lang=chunk_langs[i],
            score=float(fused[i]),
            dense=float(dense[i]),
            lexical=float(lexical[i]),
        )
        for i in order
    ]
    return Retrieval(question, language, query_vector, terms, passages)
