"""Stage 2: split cleaned article segments into sentences, analyse them, group them into chunks.

Every sentence, token and chunk carries half-open character offsets into the article's original text,
so anything cited later can be checked with ``article.text[start:end]``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

from .ingest import Article, Segment

# Morpheme tags (Sejong tag set, as Kiwi uses) that carry content: used for lexical matching.
CONTENT_TAGS = frozenset(
    {"NNG", "NNP", "NNB", "NR", "NP", "SL", "SH", "SN", "XR", "VV", "VA", "MAG", "W_HASHTAG", "W_SERIAL"}
)


@dataclass(frozen=True)
class Token:
    """One morpheme (Korean) or word (English) with absolute offsets into the article text."""

    form: str
    tag: str
    start: int
    end: int


@dataclass
class Sentence:
    doc_id: str
    start: int
    end: int
    text: str
    kind: str = "body"  # "body" or "heading"
    tokens: list[Token] = field(default_factory=list)


@dataclass
class Chunk:
    chunk_id: int
    doc_id: str
    start: int
    end: int
    text: str
    sentence_ids: list[int]  # indices into the index's global sentence list


@dataclass(frozen=True)
class ChunkSettings:
    max_tokens: int = 200  # model tokens per chunk (multilingual-e5 reads 512; shorter chunks cite tighter)
    overlap_sentences: int = 1
    # A chunk never spans text the ingest removed (a photo caption between two paragraphs): its passage
    # is contiguous original text, and it would otherwise show, and embed, the caption.
    split_at_removed_text: bool = True

    def as_dict(self) -> dict:
        return {"max_tokens": self.max_tokens, "overlap_sentences": self.overlap_sentences,
                "split_at_removed_text": self.split_at_removed_text}


class Analyzer(Protocol):
    """Sentence splitting and morphological analysis for one language family."""

    def split(self, text: str) -> list[tuple[int, int]]: ...

    def tokenize(self, text: str) -> list[Token]: ...


_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)*|[^\sA-Za-z\d]", re.UNICODE)


class EnglishAnalyzer:
    """pysbd for sentence boundaries (abbreviations, decimals); words by a regex tokenizer."""

    def __init__(self) -> None:
        import pysbd  # light, but only needed while indexing

        self._segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)

    def split(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for piece in self._segmenter.segment(text):
            start, end = piece.start, piece.end
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append((start, end))
        return spans

    def tokenize(self, text: str) -> list[Token]:
        tokens = []
        for match in _WORD.finditer(text):
            form = match.group()
            if form[0].isdigit():
                tag = "SN"
            elif form[0].isalpha():
                tag = "SL"
            else:
                tag = "SF" if form in ".?!" else "SW"
            tokens.append(Token(form, tag, match.start(), match.end()))
        return tokens


class KiwiAnalyzer:
    """Kiwi for Korean sentence boundaries and morphemes (it also tags embedded Latin words as SL)."""

    def __init__(self) -> None:
        from kiwipiepy import Kiwi  # ~1 s and 500 MB: only loaded to build an index

        self._kiwi = Kiwi()

    def split(self, text: str) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in self._kiwi.split_into_sents(text)]

    def tokenize(self, text: str) -> list[Token]:
        return [Token(t.form, t.tag, t.start, t.start + t.len) for t in self._kiwi.tokenize(text)]


def split_sentences(article: Article, analyzer: Analyzer) -> list[Sentence]:
    """Sentences of the article's kept segments, each analysed into tokens, offsets absolute."""
    sentences: list[Sentence] = []
    for segment in article.segments:
        piece = article.text[segment.start : segment.end]
        spans = [(0, len(piece))] if segment.kind == "heading" else analyzer.split(piece)
        for start, end in _trim_spans(piece, spans):
            text = piece[start:end]
            tokens = [
                Token(t.form, t.tag, t.start + segment.start + start, t.end + segment.start + start)
                for t in analyzer.tokenize(text)
            ]
            sentences.append(
                Sentence(article.doc_id, segment.start + start, segment.start + end, text, segment.kind, tokens)
            )
    return sentences


def _trim_spans(text: str, spans: Iterable[tuple[int, int]]) -> Iterable[tuple[int, int]]:
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            yield start, end


def make_chunks(
    article: Article,
    sentences: Sequence[Sentence],
    first_sentence_id: int,
    first_chunk_id: int,
    count_tokens: Callable[[str], int],
    settings: ChunkSettings = ChunkSettings(),
) -> list[Chunk]:
    """Windows of consecutive sentences, at most ``settings.max_tokens`` model tokens each (a single longer
    sentence becomes its own chunk), consecutive windows sharing ``overlap_sentences`` sentences."""
    sizes = [count_tokens(s.text) for s in sentences]
    removed_before = [
        k > 0 and settings.split_at_removed_text and bool(article.text[sentences[k - 1].end : sentences[k].start].strip())
        for k in range(len(sentences))
    ]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j, total = i, 0
        while j < len(sentences) and (j == i or (total + sizes[j] <= settings.max_tokens and not removed_before[j])):
            total += sizes[j]
            j += 1
        start, end = sentences[i].start, sentences[j - 1].end
        chunks.append(
            Chunk(
                chunk_id=first_chunk_id + len(chunks),
                doc_id=article.doc_id,
                start=start,
                end=end,
                text=article.text[start:end],
                sentence_ids=list(range(first_sentence_id + i, first_sentence_id + j)),
            )
        )
        if j >= len(sentences):
            break
        i = j if removed_before[j] else max(i + 1, j - settings.overlap_sentences)
    return chunks


def analyzer_for(lang: str, cache: dict) -> Analyzer:
    """One analyzer per language, created on first use."""
    if lang not in cache:
        cache[lang] = EnglishAnalyzer() if lang == "en" else KiwiAnalyzer()
    return cache[lang]


__all__ = [
    "CONTENT_TAGS",
    "Analyzer",
    "Chunk",
    "ChunkSettings",
    "EnglishAnalyzer",
    "KiwiAnalyzer",
    "Segment",
    "Sentence",
    "Token",
    "analyzer_for",
    "make_chunks",
    "split_sentences",
]
