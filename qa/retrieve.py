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
# words and numbers can match across scripts (0.05: `bench/crosslingual_retrieval.py`).
LEXICAL_WEIGHT = {True: 0.35, False: 0.05}
# Share of a chunk's dense score that comes from its best sentence's cosine rather than the whole chunk's.
# Across languages e5's vector of a whole chunk matches the question worse than its best sentence does:
# on our 900 English questions over KorQuAD paragraphs hit@1 39 -> 49 %, hit@5 67 -> 74 % at 0.35
# (`bench/crosslingual_retrieval.py`); within Korean it costs a little (hit@1 89.6 -> 89.0 %), so none.
SENTENCE_WEIGHT = {True: 0.0, False: 0.35}
# Added, by the question's language, to the dense score of chunks in the other language before it is scaled:
# e5's cosine runs lower across languages, so in an archive of both an equally relevant chunk in the
# question's own language wins. No effect when every chunk is in the other language. Chosen by
# `bench/mixed_retrieval.py` (our 100 English paragraphs among 300 Korean KorQuAD ones, training data
# only): Korean questions over the English paragraphs hit@1 18 -> 68 %, hit@5 35 -> 85 %, for Korean over
# Korean 92.5 -> 91.4 % / 98.7 -> 98.2 %; English over Korean 38 -> 56 % / 66 -> 79 %, English over English
# 91 -> 85 % / 97 -> 93 %.
CROSS_LANGUAGE_DENSE_BONUS: dict[str, float] = {"ko": 0.07, "en": 0.04}
# Added to the fused score of a Korean chunk per English question name it writes in Hangul (qa.names: the
# sum of the names' rarity, plus NAME_DOCUMENT_WEIGHT times the same sum over the chunk's article).
# Chosen by `bench/name_bridge.py` on our 900 English questions over KorQuAD training paragraphs:
# hit@1 48.6 -> 53.9 %, hit@5 73.6 -> 78.8 %; our English questions over held-out articles 45.8 -> 57.6 /
# 67.8 -> 76.3 %, over our Korean news 56.3 -> 58.3 / 89.6 -> 91.7 % (reported, not chosen on).
NAME_WEIGHT = 0.2
NAME_DOCUMENT_WEIGHT = 0.5
CANDIDATES = 100

_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
_LONGEST_TERM = 12


@dataclass
class Passage:
    chunk: Chunk
    title: str
    lang: str
    score: float  # fused, in [0, 1] (divided by the best when shared names lift it above 1)
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


@dataclass
class Scores:
    """Every chunk's evidence for one question."""

    dense: np.ndarray  # cosine of question and chunk
    best_sentence: np.ndarray  # cosine of question and the chunk's best sentence (the chunk's, when unused)
    lexical: np.ndarray  # BM25 over the best BM25 score of the collection
    same_language: np.ndarray  # bool: the chunk's article is in the question's language
    language: str = "ko"  # the question's
    names: np.ndarray | None = None  # English questions: the names they share with each Korean chunk (qa.names)


def chunk_scores(index: Index, query_vector: np.ndarray, terms: list[str], language: str,
                 sentence_weight: dict[bool, float] = SENTENCE_WEIGHT, question: str = "",
                 name_document_weight: float = NAME_DOCUMENT_WEIGHT) -> Scores:
    """Every chunk's evidence; the names an English ``question`` shares with Korean chunks when it is given."""
    dense = index.chunk_vectors @ query_vector
    same = np.array([index.articles[c.doc_id].lang == language for c in index.chunks], dtype=bool)
    if same.all() and sentence_weight[True] == 0.0:
        best_sentence = dense  # weighs nothing within one language: skip the sentence product
    else:
        sentence = np.append(index.sentence_vectors @ query_vector, -np.inf)  # -1 pads index the appended -inf
        best_sentence = sentence[index.chunk_sentences()].max(axis=1)
    lexical = np.zeros(len(index.chunks), dtype=np.float32)
    if terms:
        lexical = index.bm25().scores(terms)
        top = float(lexical.max())
        lexical = lexical / top if top > 0 else lexical
    names = None
    if question and language == "en" and not same.all():
        names = np.zeros(len(index.chunks), dtype=np.float32)
        for chunk, score in index.names().scores(question, name_document_weight).items():
            names[chunk] = score
    return Scores(dense, best_sentence, lexical, same, language, names)


def fuse(scores: Scores, sentence_weight: dict[bool, float] = SENTENCE_WEIGHT,
         lexical_weight: dict[bool, float] = LEXICAL_WEIGHT,
         cross_language_bonus: float | None = None, name_weight: float = NAME_WEIGHT) -> np.ndarray:
    """Fused score: the dense side (chunk and best-sentence cosine mixed by language, other-language
    chunks raised by ``cross_language_bonus``, default CROSS_LANGUAGE_DENSE_BONUS for the question's
    language), min-max scaled over the collection, and the lexical side, weighted by language, in [0, 1];
    plus ``name_weight`` times the names shared with the question, if any."""
    if cross_language_bonus is None:
        cross_language_bonus = CROSS_LANGUAGE_DENSE_BONUS.get(scores.language, 0.0)
    mix = np.where(scores.same_language, sentence_weight[True], sentence_weight[False])
    dense = (1 - mix) * scores.dense + mix * scores.best_sentence + np.where(scores.same_language, 0.0, cross_language_bonus)
    low, high = float(dense.min()), float(dense.max())
    dense_scaled = (dense - low) / (high - low) if high > low else np.ones_like(dense)
    weights = np.where(scores.same_language, lexical_weight[True], lexical_weight[False])
    fused = (1 - weights) * dense_scaled + weights * scores.lexical
    return fused if scores.names is None else fused + name_weight * scores.names


def retrieve(index: Index, embedder: Embedder, question: str, k: int = 5) -> Retrieval:
    language = detect_language(question)
    query_vector = embedder.embed_queries([question])[0]
    terms = query_terms(question, index.vocabulary)
    scores = chunk_scores(index, query_vector, terms, language, question=question)
    fused = fuse(scores)
    # Stable sort on (-score, chunk id): equal scores always come out in the same order.
    order = np.lexsort((np.arange(len(fused)), -fused))[:k]
    # Shared names can lift scores above 1: scale them back so that the best is 1 and the rest keep their
    # distance below it (the reader reads log(score) as a prior).
    scale = max(1.0, float(fused[order[0]])) if len(order) else 1.0
    passages = [
        Passage(
            chunk=index.chunks[i],
            title=index.articles[index.chunks[i].doc_id].title,
            lang=index.articles[index.chunks[i].doc_id].lang,
            score=float(fused[i]) / scale,
            dense=float(scores.dense[i]),
            lexical=float(scores.lexical[i]),
        )
        for i in order
    ]
    return Retrieval(question, language, query_vector, terms, passages)
