"""The metric layer of `qa eval`: answer, retrieval, no-answer, calibration and latency metrics.

Pure functions over plain values; the CLI loads the questions, runs the pipeline and prints.
Every rate is a fraction in [0, 1] (KorQuAD reports EM/F1 x 100: multiply when printing). A rate whose
denominator is empty is None, not 0, so "no data" never reads as "always wrong".
"""

from __future__ import annotations

import math
import re
import string
from bisect import bisect_right
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Sequence

from qa.errors import InputError

LANGS = ("ko", "en")

# An answer counts as correct when its KorQuAD character F1 reaches this; below it, "wrong".
CORRECT_F1 = 0.5


# --- KorQuAD v1.0 (official evaluate-v1.0.py, korquad/korquad.github.io) -------------------------------
# normalize_answer = white_space_fix(remove_punc(lower(remove_(s)))), where remove_ turns each of
# ' " 《 》 < > 〈 〉 ( ) ‘ ’ into a space. Because remove_ runs first, ASCII ' " < > ( ) become spaces,
# while the rest of string.punctuation is deleted outright ("1,000" -> "1000"). Other Unicode
# punctuation (“ ” · 「 」) is kept. EM compares the normalized strings; F1 compares the characters of
# the whitespace-split tokens, so spaces are ignored ('1억 달러' vs '1억달러': EM 0, F1 1).

_KORQUAD_TO_SPACE = str.maketrans({ch: " " for ch in "'\"《》<>〈〉()‘’"})
_ASCII_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """KorQuAD v1.0 answer normalization."""
    text = text.translate(_KORQUAD_TO_SPACE).lower().translate(_ASCII_PUNCTUATION)
    return " ".join(text.split())


def korquad_exact_match(prediction: str | None, gold: str) -> float:
    """1.0 when the normalized strings are equal; a declined (None) prediction scores 0."""
    if prediction is None:
        return 0.0
    return float(normalize_answer(prediction) == normalize_answer(gold))


def korquad_f1(prediction: str | None, gold: str) -> float:
    """Character-level F1 over character multisets of the normalized strings, spaces removed."""
    if prediction is None:
        return 0.0
    predicted_chars = "".join(normalize_answer(prediction).split())
    gold_chars = "".join(normalize_answer(gold).split())
    return _multiset_f1(predicted_chars, gold_chars)


def max_over_golds(
    metric: Callable[[str | None, str], float], prediction: str | None, golds: Sequence[str]
) -> float:
    """The best score over the gold answers, as both official scripts take it."""
    if not golds:
        # The official scripts' max() raises here too: an answerable question always has a gold.
        raise ValueError("max_over_golds needs at least one gold answer")
    return max(metric(prediction, gold) for gold in golds)


# --- SQuAD v1.1 (official evaluate-v1.1.py), for English golds ------------------------------------------
# normalize = white_space_fix(remove_articles(remove_punc(lower(s)))); F1 over whitespace tokens.

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(text: str) -> str:
    """SQuAD v1.1 normalization: lowercase, drop ASCII punctuation and a/an/the, collapse whitespace."""
    text = text.lower().translate(_ASCII_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact_match(prediction: str | None, gold: str) -> float:
    if prediction is None:
        return 0.0
    return float(squad_normalize(prediction) == squad_normalize(gold))


def squad_f1(prediction: str | None, gold: str) -> float:
    """Token-level F1 over token multisets of the normalized strings."""
    if prediction is None:
        return 0.0
    return _multiset_f1(squad_normalize(prediction).split(), squad_normalize(gold).split())


def _multiset_f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    # Counter intersection: a repeated item matches at most as often as it occurs on both sides.
    # Nothing in common (two empty strings included) scores 0, as in both official scripts.
    overlap = sum((Counter(predicted) & Counter(gold)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


# --- Retrieval ------------------------------------------------------------------------------------------
# ranx was measured for this and rejected: installing it adds 33 packages (numba, llvmlite, scipy,
# pandas, matplotlib, ir_datasets; ~700 MB venv, 69 s), `import ranx` takes 4.8-5.2 s on this 2-core
# machine, and the first evaluate() takes 22 s of numba JIT (4-6 s in later processes, cached).
# pytrec_eval-terrier imports in 0.24 s but has no MRR cut-off (recip_rank is uncut) and wants
# per-document runs, while we only know the rank of the first relevant passage. Hence two small
# functions over those ranks.


def hit_rate(hit_ranks: Sequence[int | None], k: int) -> float | None:
    """Fraction of questions whose first relevant passage is ranked within the top k (1-based ranks)."""
    if not hit_ranks:
        return None
    return sum(rank is not None and rank <= k for rank in hit_ranks) / len(hit_ranks)


def mean_reciprocal_rank(hit_ranks: Sequence[int | None], k: int) -> float | None:
    """MRR@k: mean of 1/rank of the first relevant passage, 0 when it is missing or below rank k."""
    if not hit_ranks:
        return None
    return math.fsum(1 / rank for rank in hit_ranks if rank is not None and rank <= k) / len(hit_ranks)


# --- Per question ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionRecord:
    """One evaluated question: the gold side and what the pipeline did with it."""

    id: str
    lang: str  # "ko" or "en"
    question: str
    golds: list[str]  # empty for an unanswerable question
    prediction: str | None  # None: the pipeline declined
    confidence: float  # in [0, 1], also given when declined
    answerable: bool
    hit_rank: int | None  # 1-based rank of the first relevant passage; None if not retrieved
    citation_valid: bool | None  # None when there is no answer to cite
    seconds: float

    def __post_init__(self) -> None:
        if self.lang not in LANGS:
            raise InputError(f"question {self.id}: lang must be one of {', '.join(LANGS)}, not {self.lang!r}")
        if self.answerable and not self.golds:
            raise InputError(f"question {self.id}: an answerable question needs at least one gold answer")
        if not 0.0 <= self.confidence <= 1.0:
            raise InputError(f"question {self.id}: confidence {self.confidence} is outside [0, 1]")
        if self.hit_rank is not None and self.hit_rank < 1:
            raise InputError(f"question {self.id}: hit_rank is 1-based, got {self.hit_rank}")

    @property
    def declined(self) -> bool:
        return self.prediction is None


@dataclass(frozen=True)
class RecordScore:
    """Metric values for one question. Answer metrics are None where they do not apply."""

    answerable: bool
    declined: bool
    correct: bool  # answered an answerable question with KorQuAD F1 >= CORRECT_F1
    em: float | None  # KorQuAD EM/F1; None on unanswerable questions (no gold to match)
    f1: float | None
    squad_em: float | None  # SQuAD v1.1 EM/token F1; English answerable questions only
    squad_f1: float | None


def score_record(record: QuestionRecord) -> RecordScore:
    if not record.answerable:
        return RecordScore(False, record.declined, False, None, None, None, None)
    f1 = max_over_golds(korquad_f1, record.prediction, record.golds)
    english = record.lang == "en"
    return RecordScore(
        answerable=True,
        declined=record.declined,
        correct=not record.declined and f1 >= CORRECT_F1,
        em=max_over_golds(korquad_exact_match, record.prediction, record.golds),
        f1=f1,
        squad_em=max_over_golds(squad_exact_match, record.prediction, record.golds) if english else None,
        squad_f1=max_over_golds(squad_f1, record.prediction, record.golds) if english else None,
    )


# --- No-answer behaviour --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoAnswerMetrics:
    decline_precision: float | None  # of declined questions, the fraction that were unanswerable
    decline_recall: float | None  # of unanswerable questions, the fraction declined
    confident_wrong_rate: float | None  # of answered questions, the fraction wrong or unanswerable


def no_answer_metrics(scores: Iterable[RecordScore]) -> NoAnswerMetrics:
    scores = list(scores)
    declined = [s for s in scores if s.declined]
    unanswerable = [s for s in scores if not s.answerable]
    answered = [s for s in scores if not s.declined]
    return NoAnswerMetrics(
        decline_precision=_fraction(sum(not s.answerable for s in declined), len(declined)),
        decline_recall=_fraction(sum(s.declined for s in unanswerable), len(unanswerable)),
        confident_wrong_rate=_fraction(sum(not s.correct for s in answered), len(answered)),
    )


# --- Calibration ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float  # bins are [lower, upper); the last one also holds confidence 1.0
    upper: float
    count: int
    mean_confidence: float | None  # None for an empty bin
    accuracy: float | None


@dataclass(frozen=True)
class ReliabilityTable:
    bins: list[ReliabilityBin]
    expected_calibration_error: float | None  # None when nothing was answered


def reliability_table(
    confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 5
) -> ReliabilityTable:
    """Bin answered predictions by confidence; accuracy is the share `correct` (KorQuAD F1 >= 0.5).

    F1 >= 0.5 rather than EM, because a reader that returns "1억 달러" for "1억달러" is right, and so
    that a bin's 1 - accuracy is exactly its confident-wrong rate. ECE = sum over bins of
    count/total * |accuracy - mean confidence|.
    """
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct must have the same length")
    # i / n_bins rather than accumulated steps: 3 / 5 is exactly the float 0.6, so a confidence of
    # 0.6 lands in [0.6, 0.8), where a reader expects it.
    edges = [i / n_bins for i in range(n_bins + 1)]
    members: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for confidence, is_correct in zip(confidences, correct):
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence {confidence} is outside [0, 1]")
        members[bisect_right(edges, confidence, 1, n_bins) - 1].append((confidence, is_correct))

    total = len(confidences)
    bins = []
    gaps = []
    for lower, upper, pairs in zip(edges, edges[1:], members):
        mean_confidence = _mean(c for c, _ in pairs)
        accuracy = _mean(float(ok) for _, ok in pairs)
        bins.append(ReliabilityBin(lower, upper, len(pairs), mean_confidence, accuracy))
        if pairs:
            gaps.append(len(pairs) / total * abs(accuracy - mean_confidence))
    return ReliabilityTable(bins, math.fsum(gaps) if total else None)


# --- Latency --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencySummary:
    p50: float | None  # seconds; None for no timings
    p95: float | None


def latency_summary(seconds: Sequence[float]) -> LatencySummary:
    if not seconds:
        return LatencySummary(None, None)
    import numpy  # here, not at the top: `qa --help` should not pay for numpy

    p50, p95 = numpy.percentile(numpy.asarray(seconds, dtype=float), [50, 95], method="linear")
    return LatencySummary(float(p50), float(p95))


# --- Aggregation ----------------------------------------------------------------------------------------


def summarize_records(records: Sequence[QuestionRecord], *, k: int = 5, n_bins: int = 5) -> dict:
    """Overall and per-language ('ko', 'en') metrics, plus the reliability table, as a JSON-ready dict.

    Means use math.fsum, which is exactly rounded, so the numbers do not depend on record order.
    EM/F1 and retrieval are averaged over answerable questions (an unanswerable one has no gold answer
    and no relevant passage); the no-answer metrics cover the rest.
    """
    scored = [(record, score_record(record)) for record in records]
    answered = [(r, s) for r, s in scored if not s.declined]
    table = reliability_table([r.confidence for r, _ in answered], [s.correct for _, s in answered], n_bins)
    return {
        "k": k,
        "overall": _group_metrics(scored, k),
        "by_lang": {lang: _group_metrics([(r, s) for r, s in scored if r.lang == lang], k) for lang in LANGS},
        "reliability": asdict(table),
    }


def _group_metrics(scored: list[tuple[QuestionRecord, RecordScore]], k: int) -> dict:
    answerable = [(r, s) for r, s in scored if s.answerable]
    english = [s for r, s in answerable if r.lang == "en"]
    hit_ranks = [r.hit_rank for r, _ in answerable]
    citations = [r.citation_valid for r, _ in scored if r.citation_valid is not None]
    return {
        "questions": len(scored),
        "answerable": len(answerable),
        "declined": sum(s.declined for _, s in scored),
        "em": _mean(s.em for _, s in answerable),
        "f1": _mean(s.f1 for _, s in answerable),
        "squad_em": _mean(s.squad_em for s in english),
        "squad_f1": _mean(s.squad_f1 for s in english),
        "hit_at_1": hit_rate(hit_ranks, 1),
        "hit_at_k": hit_rate(hit_ranks, k),
        "mrr_at_k": mean_reciprocal_rank(hit_ranks, k),
        **asdict(no_answer_metrics(s for _, s in scored)),
        "citation_valid": _fraction(sum(citations), len(citations)),
        **asdict(latency_summary([r.seconds for r, _ in scored])),
    }


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return math.fsum(values) / len(values) if values else None


def _fraction(part: int, whole: int) -> float | None:
    return part / whole if whole else None
