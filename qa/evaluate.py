"""Stage: evaluate — `qa eval`. Two layers:

1. The metrics: answer, retrieval, no-answer, calibration and latency, as pure functions over plain values.
2. The runner (below them): load a gold set (seeds JSONL or KorQuAD/SQuAD v1.1 JSON), build or reuse the
   index, ask every question through one Session, and return an EvalReport that `format_report` prints
   and `report_json` serializes. The CLI parses, calls `run_eval`, and echoes.
Every rate is a fraction in [0, 1] (KorQuAD reports EM/F1 x 100: multiply when printing). A rate whose
denominator is empty is None, not 0, so "no data" never reads as "always wrong".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import string
import time
from bisect import bisect_right
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from qa.errors import InputError, QAError, UsageError

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


# =========================================================================================================
# The runner: a gold set in, every question through one Session, an EvalReport out.
# =========================================================================================================

FORMATS = ("seeds", "korquad")
DEFAULT_K = 5


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    lang: str  # "ko" or "en"
    question: str
    answers: list[str]  # empty: unanswerable
    doc: str | None  # the article (KorQuAD: the paragraph) holding the answer; None: any article


@dataclass
class GoldSet:
    path: Path
    format: str  # "seeds" or "korquad"
    sha256: str  # of the file's bytes: keys the KorQuAD index cache
    questions: list[GoldQuestion]  # after --limit / --sample, in file order
    total: int  # questions in the file
    articles: list[dict]  # KorQuAD: one {"id", "title", "text"} per paragraph; seeds: []


def load_gold(
    path: str | Path, format: str = "seeds", *, limit: int | None = None, sample: int | None = None, seed: int = 0,
    split: str | Path | None = None,
) -> GoldSet:
    """Read a gold file. ``limit`` keeps the first N questions; ``sample`` a random N, chosen by
    ``random.Random(seed).sample`` over the sorted question ids (so the same seed picks the same set).
    ``split`` (KorQuAD): a split file written by bench/build_reader.py; only questions of its held-out
    articles are kept (the archive still holds every paragraph)."""
    path = Path(path)
    if format not in FORMATS:
        raise UsageError(f"unknown gold format {format!r}; use one of {', '.join(FORMATS)}")
    if limit is not None and sample is not None:
        raise UsageError("give --limit or --sample, not both")
    for name, value in (("--limit", limit), ("--sample", sample)):
        if value is not None and value < 1:
            raise UsageError(f"{name} must be at least 1, not {value}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the gold file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the gold file is not UTF-8") from None
    if format == "seeds":
        questions, articles = _seed_questions(text, path), []
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(f"{path}: not JSON ({exc}) — is it a SQuAD v1.1 file? (--format korquad)") from None
        articles, questions = korquad_articles(data, str(path))
    if not questions:
        raise InputError(f"{path}: no questions in the gold file")
    ids = Counter(q.id for q in questions)
    duplicates = sorted(i for i, n in ids.items() if n > 1)
    if duplicates:
        raise InputError(f"{path}: duplicate question ids: {', '.join(duplicates[:5])}")
    if split is not None:
        if format != "korquad":
            raise UsageError("--split selects KorQuAD articles; use it with --format korquad")
        held = _held_out_articles(split)
        questions = [q for q in questions if q.doc and int(q.doc[2:5]) in held]
        if not questions:
            raise InputError(f"{split}: none of its held-out articles is in {path}")
    total = len(questions)
    if limit is not None:
        questions = questions[:limit]
    if sample is not None:
        if sample > total:
            raise UsageError(f"--sample {sample} is more than the {total} questions in {path}")
        chosen = set(random.Random(seed).sample(sorted(q.id for q in questions), sample))
        questions = [q for q in questions if q.id in chosen]
    return GoldSet(path, format, hashlib.sha256(raw).hexdigest(), questions, total, articles)


def _held_out_articles(split: str | Path) -> set[int]:
    try:
        data = json.loads(Path(split).read_text(encoding="utf-8"))
        articles = {int(a) for a in data["held_out"]["articles"]}
    except OSError as exc:
        raise InputError(f"{split}: cannot read the split file ({exc.strerror or exc})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f'{split}: not a split file ({exc.__class__.__name__}: {exc}); expected '
                         '{"held_out": {"articles": [article numbers]}}') from None
    return articles


def _seed_questions(text: str, path: Path) -> list[GoldQuestion]:
    questions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
            if isinstance(record, dict) and "data" in record and "question" not in record:
                raise InputError(f"{path}: looks like a SQuAD/KorQuAD JSON file — add --format korquad")
            question, answers, doc = record["question"], record["answers"], record.get("doc")
            if not isinstance(question, str) or not question.strip():
                raise TypeError("question is not a non-empty string")
            if not isinstance(answers, list) or not all(isinstance(a, str) and a for a in answers):
                raise TypeError("answers is not a list of non-empty strings")
            if doc is not None and not isinstance(doc, str):
                raise TypeError("doc is neither a string nor null")
            gold = GoldQuestion(str(record["id"]), str(record["lang"]), question, list(answers), doc)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{where}: not a gold question ({exc.__class__.__name__}: {exc}); each line needs "
                '{"id", "lang", "question", "answers": [...], "doc"}'
            ) from None
        if gold.lang not in LANGS:
            raise InputError(f"{where}: lang must be one of {', '.join(LANGS)}, not {gold.lang!r}")
        questions.append(gold)
    return questions


def korquad_doc_id(article: int, paragraph: int) -> str:
    """Stable id of a KorQuAD paragraph: article and paragraph position in the file."""
    return f"kq{article:03d}-{paragraph:02d}"


def korquad_articles(data: dict, source: str = "KorQuAD") -> tuple[list[dict], list[GoldQuestion]]:
    """A SQuAD v1.1 / KorQuAD v1.0 file as articles to index (one per paragraph: id, Wikipedia title,
    paragraph text) and its questions (Korean, gold = that paragraph). Also used by bench/fusion.py."""
    articles: list[dict] = []
    questions: list[GoldQuestion] = []
    try:
        for a, article in enumerate(data["data"]):
            for p, paragraph in enumerate(article["paragraphs"]):
                doc_id = korquad_doc_id(a, p)
                articles.append({"id": doc_id, "title": article["title"], "text": paragraph["context"]})
                for qa in paragraph["qas"]:
                    golds = list(dict.fromkeys(str(answer["text"]) for answer in qa["answers"]))
                    questions.append(GoldQuestion(str(qa["id"]), "ko", qa["question"], golds, doc_id))
    except (KeyError, TypeError, IndexError) as exc:
        raise InputError(
            f"{source}: not a SQuAD v1.1 file ({exc.__class__.__name__}: {exc}); expected "
            '{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", "answers"}]}]}]}'
        ) from None
    return articles, questions


# --- the KorQuAD index cache ------------------------------------------------------------------------------
# A KorQuAD run indexes the file's paragraphs once and keeps the index under the user cache:
#   $QA_CACHE_DIR (default $XDG_CACHE_HOME/qa, i.e. ~/.cache/qa) / eval / <file stem>-<sha256[:12] of the file>
#       / <embedder name>-<key[:12]> / {articles.jsonl, index/, built.json}
# where key hashes the embedder (name, revision, weights sha256), the chunker settings and the index format
# (qa.index.FORMAT_VERSION: bump it when what an index holds changes; hashing our own source instead made
# every refactor cost a 30-minute rebuild). built.json is written last,
# after a complete build, so a second run with the same file, model and code loads the index without
# ingesting or embedding anything; anything else builds in a fresh folder (old ones can be deleted).

def default_cache_dir() -> Path:
    from qa.models import cache_dir

    folder = cache_dir()
    if folder is None:
        raise QAError("no cache folder for the KorQuAD index: set QA_CACHE_DIR or pass --cache-dir")
    return folder


def korquad_cache_folder(gold: GoldSet, info, cache_dir: Path | None = None) -> Path:
    from qa.chunk import ChunkSettings
    from qa.index import FORMAT_VERSION

    key = hashlib.sha256(json.dumps(
        {"embedder": [info.name, info.backend, info.revision, info.sha256, info.dimension],
         "chunker": ChunkSettings().as_dict(), "index_format": FORMAT_VERSION},
        sort_keys=True,
    ).encode()).hexdigest()
    model = re.sub(r"[^A-Za-z0-9._-]+", "_", info.name)
    return (cache_dir or default_cache_dir()) / "eval" / f"{gold.path.stem}-{gold.sha256[:12]}" / f"{model}-{key[:12]}"


@dataclass
class IndexInfo:
    path: str
    reused: bool
    build_seconds: float | None  # of the build that made it (also when reused)
    articles: int  # articles in the index
    skipped: int = 0  # KorQuAD paragraphs the ingest refused (no text left after cleaning)


def prepare_korquad_index(gold: GoldSet, embedder, cache_dir: Path | None = None, progress=None) -> IndexInfo:
    """Build, or reuse, the index of every paragraph of a KorQuAD file (see the cache layout above)."""
    from qa.ingest import CLEANER_VERSION, make_article
    from qa.session import update_index

    folder = korquad_cache_folder(gold, embedder.info, cache_dir)
    index_dir, marker = folder / "index", folder / "built.json"
    if marker.exists() and (index_dir / "CURRENT").exists():
        try:
            built = json.loads(marker.read_text(encoding="utf-8"))
            if built.get("cleaner", 2) == CLEANER_VERSION:  # markers before the field: cleaner 2
                return IndexInfo(str(index_dir), True, built["build_seconds"], built["articles"], built["skipped"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # a damaged marker: build again
    folder.mkdir(parents=True, exist_ok=True)
    # The ingest refuses a whole .jsonl file for one line it cannot use, so paragraphs it would refuse
    # (no text left after its boilerplate rules) are left out here, and counted; their questions are
    # still asked, and miss.
    kept, skipped = [], []
    for article in gold.articles:
        try:
            make_article(article["id"], article["text"], article["id"], title=article["title"])
        except InputError:
            skipped.append(article["id"])
            continue
        kept.append(article)
    corpus = folder / "articles.jsonl"
    temporary = folder / f".articles.{os.getpid()}.jsonl"
    temporary.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in kept), encoding="utf-8")
    os.replace(temporary, corpus)
    started = time.perf_counter()
    result = update_index([str(corpus)], index_dir, embedder, rebuild=True, progress=progress)
    info = IndexInfo(str(index_dir), False, round(time.perf_counter() - started, 3),
                     len(result.index.manifest.docs), len(skipped) + len(result.report.skipped))
    marker.write_text(json.dumps({"dataset_sha256": gold.sha256, "embedder": asdict(embedder.info), "cleaner": CLEANER_VERSION,
                                  "build_seconds": info.build_seconds, "articles": info.articles,
                                  "skipped": info.skipped, "skipped_ids": skipped}, indent=1) + "\n",
                      encoding="utf-8")
    return info


# --- running ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalRun:
    """One question's record plus what the report shows beside the metrics."""

    record: QuestionRecord
    gold_doc: str | None
    cited: dict | None  # {"doc_id", "start", "end"} of the answer, None when declined
    retrieved: list[str]  # doc ids of the k retrieved passages, best first
    answered_by: str | None = None  # "reader" or "rules" (qa.session.AskResult.answered_by); None: declined
    guess: str | None = None  # a declined question's unsure guess (qa.session.AskResult.guess), if any


@dataclass
class EvalReport:
    gold_path: str
    format: str
    k: int
    planned: int  # questions the run set out to ask
    runs: list[EvalRun]  # fewer than planned when interrupted
    index: IndexInfo
    interrupted: bool = False
    answerer: str = "rules"  # what extracted the answers: "rules", or the reader's name

    @property
    def records(self) -> list[QuestionRecord]:
        return [run.record for run in self.runs]

    @property
    def metrics(self) -> dict:
        return summarize_records(self.records, k=self.k)


def run_eval(
    gold: GoldSet,
    embedder,
    *,
    index_dir: Path | None = None,
    k: int = DEFAULT_K,
    cache_dir: Path | None = None,
    progress=None,
    reader=None,
) -> EvalReport:
    """Open one Session (seeds: ``index_dir``, built from seeds/ if missing; KorQuAD: the cached index of
    all its paragraphs) and ask it every gold question. Ctrl-C stops the run with a partial report."""
    from qa.session import Session, default_index_dir

    if gold.format == "korquad":
        info = prepare_korquad_index(gold, embedder, cache_dir, progress)
        session = Session(Path(info.path), embedder, sources=(), progress=progress, reader=reader)
    else:
        index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        existed = (index_dir / "CURRENT").exists()
        session = Session(index_dir, embedder, progress=progress, reader=reader)  # builds from seeds/ when missing
        manifest = session.index.manifest
        info = IndexInfo(str(index_dir), existed, manifest.build_seconds, len(manifest.docs))
    return evaluate_session(gold, session, k=k, index=info, progress=progress)


def evaluate_session(gold: GoldSet, session, *, k: int = DEFAULT_K, index: IndexInfo | None = None,
                     progress=None) -> EvalReport:
    """Ask ``session`` (anything with ``.index`` and ``.ask(question, k)``) every gold question, timing each.

    The first question is asked once untimed, so lazily loaded models (Kiwi, the reader) do not land in
    the latency of whichever question happens to come first.
    """
    if k < 1:
        raise UsageError(f"--k must be at least 1, not {k}")
    report = EvalReport(str(gold.path), gold.format, k, len(gold.questions), [],
                        index or IndexInfo(str(getattr(session.index, "path", "")), True, None, len(session.index.articles)))
    reader = session.reader() if hasattr(session, "reader") else None
    if reader is not None:
        languages = ", ".join(sorted(session.reader_languages))
        report.answerer = f"reader {reader.name} ({languages} questions; rules where it declines)"
    sources = _SourceTexts(session.index.articles)
    total = len(gold.questions)
    try:
        if gold.questions:
            _ask(session, gold.questions[0], k)
        for done, question in enumerate(gold.questions):
            if progress:
                progress("questions", done, total)
            started = time.perf_counter()
            result = _ask(session, question, k)
            seconds = time.perf_counter() - started
            report.runs.append(_run_record(question, result, seconds, sources))
        if progress:
            progress("questions", total, total)
    except KeyboardInterrupt:
        report.interrupted = True
    return report


def _ask(session, question: GoldQuestion, k: int):
    try:
        return session.ask(question.question, k=k)
    except UsageError as exc:
        raise InputError(f"gold question {question.id}: {exc}") from None


def _run_record(question: GoldQuestion, result, seconds: float, sources: "_SourceTexts") -> EvalRun:
    citation = result.citation if result.answer is not None else None
    record = QuestionRecord(
        id=question.id,
        lang=question.lang,
        question=question.question,
        golds=list(question.answers),
        prediction=result.answer,
        confidence=min(max(float(result.confidence), 0.0), 1.0),
        answerable=bool(question.answers),
        hit_rank=gold_hit_rank(result.passages, question),
        citation_valid=None if result.answer is None else sources.citation_valid(citation, result.answer),
        seconds=seconds,
    )
    cited = {"doc_id": citation.doc_id, "start": citation.start, "end": citation.end} if citation else None
    guess = getattr(result, "guess", None)
    return EvalRun(record, question.doc, cited, [p.chunk.doc_id for p in result.passages],
                   getattr(result, "answered_by", None), guess.text if guess else None)


def gold_hit_rank(passages, question: GoldQuestion) -> int | None:
    """1-based rank of the first passage from the gold article (any article when it has none) that
    contains a gold answer string; None for an unanswerable question or no such passage."""
    if not question.answers:
        return None
    for rank, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        if (question.doc is None or chunk.doc_id == question.doc) and any(a in chunk.text for a in question.answers):
            return rank
    return None


class _SourceTexts:
    """Article texts to check citations against: the source file reread when it is still readable, else
    the text stored in the index. Each file is read once."""

    def __init__(self, articles: dict):
        self.articles = articles
        self._files: dict[str, dict[str, str]] = {}

    def text(self, doc_id: str) -> str | None:
        article = self.articles.get(doc_id)
        if article is None:
            return None
        jsonl_line = re.fullmatch(r"(.+\.jsonl):\d+", article.source, re.IGNORECASE)  # ingest's "path:line"
        path = jsonl_line.group(1) if jsonl_line else article.source
        if path not in self._files:
            self._files[path] = self._read(path)
        return self._files[path].get(doc_id, article.text)

    @staticmethod
    def _read(path: str) -> dict[str, str]:
        from qa.errors import QAError
        from qa.ingest import read_file

        try:
            return {a.doc_id: a.text for a in read_file(Path(path))}
        except (QAError, OSError):
            return {}

    def citation_valid(self, citation, answer: str) -> bool:
        if citation is None or not answer:
            return False
        text = self.text(citation.doc_id)
        if text is None:
            return False
        return (
            0 <= citation.passage_start <= citation.start < citation.end <= citation.passage_end <= len(text)
            and text[citation.start : citation.end] == answer
            and text[citation.passage_start : citation.passage_end] == citation.passage
        )


# --- output ----------------------------------------------------------------------------------------------


def report_json(report: EvalReport) -> dict:
    """The whole report as one JSON-ready dict: metrics, then one record per question, in gold order."""
    records = []
    for run in report.runs:
        record, score = run.record, score_record(run.record)
        records.append({
            "id": record.id,
            "lang": record.lang,
            "question": record.question,
            "gold": record.golds,
            "gold_doc": run.gold_doc,
            "prediction": record.prediction,
            "confidence": record.confidence,
            "answered_by": run.answered_by,
            "guess": run.guess,
            "cited": run.cited,
            "citation_valid": record.citation_valid,
            "hit_rank": record.hit_rank,
            "retrieved": run.retrieved,
            "scores": {"em": score.em, "f1": score.f1, "squad_em": score.squad_em, "squad_f1": score.squad_f1,
                       "correct": score.correct, "declined": score.declined},
            "seconds": round(record.seconds, 4),
        })
    return {
        "gold": report.gold_path,
        "format": report.format,
        "k": report.k,
        "planned": report.planned,
        "evaluated": len(report.runs),
        "interrupted": report.interrupted,
        "index": asdict(report.index),
        "answerer": report.answerer,
        "metrics": report.metrics,
        "records": records,
    }


def threshold_failures(report: EvalReport, min_f1: float | None = None, min_hit: float | None = None) -> list[str]:
    """One message per unmet threshold. Thresholds are fractions (0.6 means F1 60); a metric with no
    data (no answerable question) fails, since it cannot show the bar is met."""
    overall = report.metrics["overall"]
    failures = []
    for name, label, bar in (("f1", "F1", min_f1), ("hit_at_k", f"hit@{report.k}", min_hit)):
        if bar is None:
            continue
        value = overall[name]
        if value is None:
            failures.append(f"{label} is undefined (no answerable questions), required ≥ {bar:g}")
        elif value < bar:
            failures.append(f"{label} {value:.4f} is below the required {bar:g}")
    return failures


_ROWS = (  # (label, metric key, how to print it)
    ("questions", "questions", "count"),
    ("answerable", "answerable", "count"),
    ("declined", "declined", "count"),
    ("EM", "em", "x100"),
    ("F1", "f1", "x100"),
    ("SQuAD EM (en gold)", "squad_em", "x100"),
    ("SQuAD F1 (en gold)", "squad_f1", "x100"),
    ("hit@1", "hit_at_1", "x100"),
    ("hit@{k}", "hit_at_k", "x100"),
    ("MRR@{k}", "mrr_at_k", "ratio"),
    ("decline precision", "decline_precision", "x100"),
    ("decline recall", "decline_recall", "x100"),
    ("confident-wrong", "confident_wrong_rate", "x100"),
    ("citation valid", "citation_valid", "x100"),
    ("latency p50 (s)", "p50", "seconds"),
    ("latency p95 (s)", "p95", "seconds"),
)


def format_report(report: EvalReport) -> str:
    """The readable table: overall and per language, then the reliability table. Rates are ×100."""
    metrics = report.metrics
    index = report.index
    built = f"built in {index.build_seconds:.1f} s" if index.build_seconds is not None else "built"
    lines = [
        f"qa eval {report.gold_path} ({report.format}): {len(report.runs)} of {report.planned} questions, k={report.k}"
        + ("  [INTERRUPTED: partial report]" if report.interrupted else ""),
        f"index: {index.path} ({index.articles} articles, {'reused' if index.reused else 'new'}, {built}"
        + (f", {index.skipped} skipped" if index.skipped else "") + ")",
        f"answers: {report.answerer}",
        "",
    ]
    columns = [("overall", metrics["overall"])] + [
        (lang, metrics["by_lang"][lang]) for lang in LANGS if metrics["by_lang"][lang]["questions"]
    ]
    label_width = max(len(label.format(k=report.k)) for label, _, _ in _ROWS)
    lines.append(" " * label_width + "".join(f"{name:>10}" for name, _ in columns))
    for label, key, style in _ROWS:
        cells = "".join(f"{_cell(group[key], style):>10}" for _, group in columns)
        lines.append(f"{label.format(k=report.k):<{label_width}}{cells}")
    lines.append("(EM, F1, hit, decline, confident-wrong and citation rates ×100; EM/F1 are KorQuAD's, over answerable questions)")
    table = metrics["reliability"]
    lines += ["", "reliability (answered questions; correct = KorQuAD F1 ≥ 0.5)",
              f"{'confidence':<12}{'count':>7}{'mean conf':>11}{'accuracy':>10}"]
    for b in table["bins"]:
        span = f"{b['lower']:.1f}–{b['upper']:.1f}"
        lines.append(f"{span:<12}{b['count']:>7}"
                     f"{_cell(b['mean_confidence'], 'ratio'):>11}{_cell(b['accuracy'], 'ratio'):>10}")
    lines.append(f"ECE {_cell(table['expected_calibration_error'], 'ratio')}")
    by_answerer = []
    for answerer in ("reader", "rules"):
        runs = [run for run in report.runs if run.answered_by == answerer]
        if runs:
            right = sum(bool(score_record(run.record).correct) for run in runs if run.record.answerable)
            answerable = sum(run.record.answerable for run in runs)
            share = _cell(_fraction(right, answerable), "x100")
            by_answerer.append(f"{answerer} {len(runs)} ({share} % of its {answerable} answerable right)")
    if by_answerer:
        lines.append("answered by: " + ", ".join(by_answerer))
    declined = [run for run in report.runs if run.record.declined and run.record.answerable]
    if any(run.guess for run in report.runs):
        right = sum(max_over_golds(korquad_f1, run.guess, run.record.golds) >= CORRECT_F1 for run in declined if run.guess)
        lines.append(f"unsure guesses: {sum(bool(run.guess) for run in declined)} of {len(declined)} declined answerable "
                     f"questions carry one, {right} of them right")
    return "\n".join(lines)


def _cell(value, style: str) -> str:
    if value is None:
        return "—"
    if style == "count":
        return str(value)
    if style == "x100":
        return f"{100 * value:.1f}"
    if style == "seconds":
        return f"{value:.3f}"
    return f"{value:.3f}"
