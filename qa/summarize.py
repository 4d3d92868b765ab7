"""Stage 7: extractive summaries of one article, several, or the articles a query retrieves.

Works on the index's own sentences and e5 sentence vectors, so every summary sentence is a span of an
article: ``article.text[start:end] == text``. The score of a sentence is

    centrality (LexRank: PageRank over the cosine graph of its sentence vectors, mean-centred first —
                e5 puts every pair of sentences at cosine 0.7–0.9, so the raw graph is nearly uniform)
  + a lead prior (news puts its claim first)
  + relevance to the query (``--query`` only: cosine to the query vector and share of its terms)

and sentences are picked greedily by MMR, skipping any that restate a picked one (the same fact from two
sources), then put back in article order. Headings, table rows, list items, questions, bylines and
fragments are never candidates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .chunk import CONTENT_TAGS, Sentence
from .embed import Embedder
from .errors import ModelError, QAError, UsageError
from .index import Index, lexical_terms

PER_ARTICLE = 3  # default sentences for one article
MULTI_MAX = 7  # default ceiling across several articles
QUERY_PASSAGES = 5  # passages retrieved for --query; their articles are summarized
LANGUAGES = ("ko", "en")

# Candidate filter.
MIN_CHARS, MAX_CHARS = 20, 300
MIN_CONTENT_TOKENS = 4

# Score weights (relevance = sum of normalised parts) and MMR trade-off; see bench/summaries.py.
WEIGHTS = {"centrality": 0.45, "lead": 0.35, "facts": 0.2}  # facts: names and numbers in the sentence
FACT_TAGS = frozenset({"NNP", "SN", "SL", "SH", "NR"})
QUERY_WEIGHTS = {"centrality": 0.25, "lead": 0.15, "query": 0.6}
LEAD_DECAY = 4.0  # the lead prior halves about every 3 sentences: exp(-i / LEAD_DECAY)
MMR_LAMBDA = 0.7
QUERY_KEEP = 1 / 3  # with --query, only the most query-relevant third of the sentences are candidates
DAMPING = 0.85
DUPLICATE_OVERLAP = 0.6  # share of the shorter sentence's content terms found in a picked one
DUPLICATE_COSINE = 0.95  # raw cosine of two sentence vectors

Translate = Callable[[list[str]], list[str]]


@dataclass
class SummarySentence:
    text: str  # the original sentence, == article.text[start:end]
    doc_id: str
    title: str
    start: int
    end: int
    translation: str | None = None  # with --lang, when the article is in another language


@dataclass
class Summary:
    sentences: list[SummarySentence]
    doc_ids: list[str]  # the articles summarized, in output order
    method: str
    lang: str | None = None

    def to_json(self) -> dict:
        summary = []
        for s in self.sentences:
            item = {"text": s.text, "doc_id": s.doc_id, "title": s.title, "start": s.start, "end": s.end}
            if s.translation is not None:
                item["translation"] = s.translation
            summary.append(item)
        return {"summary": summary, "doc_ids": self.doc_ids, "method": self.method}


# --- which sentences may appear -------------------------------------------------------------------------

_CLOSERS = "\"'”’」』)]》〉"
_TABLE_OR_LIST = re.compile(r"\||^\s*(?:[-*•·▶▷►◆◇■□○●※]|\d+[.)]\s)")
_BYLINE = re.compile(r"(?:기자|특파원|통신원)\s*(?:=|입니다|$)|[\w.+-]+@[\w-]+\.\w|^by\s", re.IGNORECASE)
_SYMBOL_HEAVY = re.compile(r"[#@=]")


def is_candidate(sentence: Sentence, source: str | None = None) -> bool:
    """A complete body sentence worth quoting: not a heading, table row, list item, question, exclamation,
    byline or fragment. A fragment is a piece the sentence splitter cut out of a longer sentence: with the
    article text ``source`` given, one glued to the text before or after it; or one starting with a particle."""
    text = sentence.text
    if source is not None and (
        (sentence.start > 0 and not source[sentence.start - 1].isspace())
        or (sentence.end < len(source) and not source[sentence.end].isspace())
    ):
        return False
    if sentence.kind != "body" or not MIN_CHARS <= len(text) <= MAX_CHARS:
        return False
    if _TABLE_OR_LIST.search(text) or _BYLINE.search(text) or len(_SYMBOL_HEAVY.findall(text)) > 1:
        return False
    # Headlines and captions drop the final period; questions and calls to action are not findings.
    if not text.rstrip(_CLOSERS).endswith((".", "。", "…")):
        return False
    tokens = sentence.tokens
    if tokens and tokens[0].tag[:1] in ("J", "E") or tokens and tokens[0].tag in ("XSN", "XSV", "XSA"):
        return False
    return sum(t.tag in CONTENT_TAGS for t in tokens) >= MIN_CONTENT_TOKENS


# --- the core -------------------------------------------------------------------------------------------


def summarize(
    index: Index,
    embedder: Embedder | None,
    doc_ids: Sequence[str] | None = None,
    all_docs: bool = False,
    query: str | None = None,
    max_sentences: int | None = None,
    max_chars: int | None = None,
    lang: str | None = None,
    translator: Callable[[str, str], Translate] | None = None,
) -> Summary:
    """Summarize ``doc_ids``, every article (``all_docs``) or the articles retrieved for ``query``.

    Default length: 3 sentences for one article, 3 per article up to 7 for several. ``max_chars`` caps the
    summed length of the picked sentences. ``lang`` asks for the summary in 'ko' or 'en': sentences of
    articles in the other language get a ``translation`` from ``translator(source, target)`` (default: the
    translator pinned in models.lock), and keep their original text and offsets as the citation.
    ``embedder`` is only used for ``query``."""
    doc_ids = list(dict.fromkeys(doc_ids or []))  # keep the user's order, drop repeats
    query = query.strip() if query is not None else None
    modes = sum([bool(doc_ids), bool(all_docs), query is not None])
    if modes != 1:
        raise UsageError("give article ids, --all or --query (exactly one of them)")
    if query is not None and not query:
        raise UsageError("the query is empty")
    if max_sentences is not None and max_sentences < 1:
        raise UsageError(f"--sentences must be at least 1, got {max_sentences}")
    if max_chars is not None and max_chars < 1:
        raise UsageError(f"--chars must be at least 1, got {max_chars}")
    if lang is not None and lang not in LANGUAGES:
        raise UsageError(f"--lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")

    query_vector, query_terms = None, []
    if doc_ids:
        unknown = [d for d in doc_ids if d not in index.articles]
        if unknown:
            raise UsageError(f"not in the index: {', '.join(unknown)} — `qa docs` lists the article ids")
    elif all_docs:
        doc_ids = list(index.articles)
    else:
        if embedder is None:
            raise UsageError("--query needs an embedder")
        from .retrieve import retrieve

        retrieval = retrieve(index, embedder, query, k=QUERY_PASSAGES)
        doc_ids = list(dict.fromkeys(p.chunk.doc_id for p in retrieval.passages))
        query_vector, query_terms = retrieval.query_vector, retrieval.terms
        if not doc_ids:
            raise QAError(f"no article in the index matches the query {query!r}")

    by_doc = _candidates_by_doc(index, doc_ids)
    empty = [d for d in doc_ids if not by_doc[d]]
    if empty and (len(empty) == len(doc_ids) or not (all_docs or query is not None)):
        raise QAError(
            f"nothing to summarize in {', '.join(empty)}: no complete body sentence "
            "(only headings, captions or fragments) — check the file, then `qa index` it again"
        )
    doc_ids = [d for d in doc_ids if by_doc[d]]

    budget = max_sentences or min(PER_ARTICLE * len(doc_ids), MULTI_MAX)
    sids = [sid for d in doc_ids for sid in by_doc[d]]
    relevance = _relevance(index, sids, by_doc, query_vector, query_terms)
    picked = _mmr(index, sids, relevance, budget, max_chars)
    if not picked:
        shortest = min(len(index.sentences[s].text) for s in sids)
        raise UsageError(f"--chars {max_chars} is shorter than any candidate sentence (the shortest has {shortest})")

    order = {d: i for i, d in enumerate(doc_ids)}
    picked.sort(key=lambda sid: (order[index.sentences[sid].doc_id], index.sentences[sid].start))
    sentences = []
    for sid in picked:
        s = index.sentences[sid]
        sentences.append(SummarySentence(s.text, s.doc_id, index.articles[s.doc_id].title, s.start, s.end))
    if lang is not None:
        _translate(index, sentences, lang, translator or load_translator)
    method = "extractive: lexrank(e5 sentence graph) + lead prior" + (" + query relevance" if query else "") + " + mmr"
    return Summary(sentences, doc_ids, method, lang)


def _candidates_by_doc(index: Index, doc_ids: list[str]) -> dict[str, list[int]]:
    wanted = set(doc_ids)
    by_doc: dict[str, list[int]] = {d: [] for d in doc_ids}
    for sid, sentence in enumerate(index.sentences):
        if sentence.doc_id in wanted and is_candidate(sentence, index.articles[sentence.doc_id].text):
            by_doc[sentence.doc_id].append(sid)
    return by_doc


def _scaled(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.ones_like(values)


def _centered(vectors: np.ndarray) -> np.ndarray:
    centered = vectors - vectors.mean(axis=0, keepdims=True)
    return centered / np.maximum(np.linalg.norm(centered, axis=1, keepdims=True), 1e-12)


def lexrank(vectors: np.ndarray, damping: float = DAMPING, iterations: int = 100) -> np.ndarray:
    """Continuous LexRank: PageRank over the positive cosine similarities of mean-centred vectors."""
    n = len(vectors)
    if n == 1:
        return np.ones(1, dtype=np.float32)
    centered = _centered(vectors)
    graph = np.clip(centered @ centered.T, 0.0, None)
    np.fill_diagonal(graph, 0.0)
    sums = graph.sum(axis=1, keepdims=True)
    transition = np.where(sums > 0, graph / np.maximum(sums, 1e-12), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        updated = (1 - damping) / n + damping * transition.T @ rank
        if np.abs(updated - rank).sum() < 1e-9:
            rank = updated
            break
        rank = updated
    return rank


def _relevance(index: Index, sids: list[int], by_doc: dict[str, list[int]], query_vector, query_terms) -> np.ndarray:
    vectors = index.sentence_vectors[sids]
    centrality = _scaled(lexrank(vectors))
    position = {sid: i for doc_sids in by_doc.values() for i, sid in enumerate(doc_sids)}
    lead = np.exp(-np.array([position[sid] for sid in sids], dtype=np.float64) / LEAD_DECAY)
    facts = _scaled(np.array([_fact_count(index.sentences[sid]) for sid in sids], dtype=np.float64))
    if query_vector is None:
        return WEIGHTS["centrality"] * centrality + WEIGHTS["lead"] * lead + WEIGHTS["facts"] * facts
    dense = _scaled(vectors @ np.asarray(query_vector, dtype=np.float32))
    wanted = set(query_terms)
    if wanted:
        lexical = np.array([len(wanted & set(_terms(index.sentences[sid]))) / len(wanted) for sid in sids])
        focus = 0.5 * dense + 0.5 * lexical
    else:
        focus = dense
    score = QUERY_WEIGHTS["centrality"] * centrality + QUERY_WEIGHTS["lead"] * lead + QUERY_WEIGHTS["query"] * focus
    # Focused means on topic: sentences in the lower two thirds of query relevance are never picked.
    floor = np.quantile(focus, 1 - QUERY_KEEP) if len(focus) > 3 else -np.inf
    return np.where(focus >= floor, score, -np.inf)


def _fact_count(sentence: Sentence) -> int:
    """Names and numbers (proper nouns, numerals, Latin words like H800): who did what, how much."""
    return len({t.form for t in sentence.tokens if t.tag in FACT_TAGS})


def _terms(sentence: Sentence) -> list[str]:
    return lexical_terms(sentence.tokens, sentence.text, sentence.start)


def _content(sentence: Sentence) -> set[str]:
    return {t.form.lower() for t in sentence.tokens if t.tag in CONTENT_TAGS}


def _mmr(index: Index, sids: list[int], relevance: np.ndarray, budget: int, max_chars: int | None) -> list[int]:
    """Greedy MMR; equal scores go to the earlier sentence, so runs are reproducible."""
    centered = _centered(index.sentence_vectors[sids]) if len(sids) > 1 else index.sentence_vectors[sids]
    raw = index.sentence_vectors[sids]
    content = [_content(index.sentences[sid]) for sid in sids]
    picked: list[int] = []  # positions in sids
    used_chars = 0
    remaining = list(range(len(sids)))
    while remaining and len(picked) < budget:
        best, best_score = None, -np.inf
        for i in remaining:
            if not np.isfinite(relevance[i]):
                continue
            length = len(index.sentences[sids[i]].text)
            if max_chars is not None and used_chars + length + (1 if picked else 0) > max_chars:
                continue
            redundancy = max((float(centered[i] @ centered[j]) for j in picked), default=0.0)
            score = MMR_LAMBDA * relevance[i] - (1 - MMR_LAMBDA) * max(redundancy, 0.0)
            if score > best_score:
                best, best_score = i, score
        if best is None:
            break
        remaining.remove(best)
        if any(_restates(content[best], content[j], raw[best], raw[j]) for j in picked):
            continue
        picked.append(best)
        used_chars += len(index.sentences[sids[best]].text) + (1 if len(picked) > 1 else 0)
    return [sids[i] for i in picked]


def _restates(a: set[str], b: set[str], va: np.ndarray, vb: np.ndarray) -> bool:
    """The same fact twice: most of the shorter sentence's content words recur, or the vectors coincide."""
    if a and b and len(a & b) / min(len(a), len(b)) >= DUPLICATE_OVERLAP:
        return True
    return float(va @ vb) >= DUPLICATE_COSINE


# --- translation ----------------------------------------------------------------------------------------

_LANGUAGE_NAMES = {"ko": "Korean", "en": "English"}
_SUGGESTED = {("ko", "en"): "Helsinki-NLP/opus-mt-ko-en"}


def _translate(index: Index, sentences: list[SummarySentence], lang: str, translator) -> None:
    groups: dict[str, list[SummarySentence]] = {}
    for s in sentences:
        source = index.articles[s.doc_id].lang
        if source != lang:
            groups.setdefault(source, []).append(s)
    for source, group in groups.items():
        translate = translator(source, lang)
        for s, translation in zip(group, translate([s.text for s in group])):
            s.translation = translation


def translator_entry(source: str, target: str, entries=None):
    """The translator pinned in models.lock for ``source``→``target`` (its name or source names the pair the
    OPUS-MT way, e.g. 'opus-mt-ko-en'), or None."""
    from .models import load_lock

    entries = load_lock() if entries is None else entries
    pair = re.compile(rf"(?<![a-z]){source}-{target}(?![a-z])", re.IGNORECASE)
    for entry in entries:
        if entry.role == "translator" and (pair.search(entry.name) or pair.search(entry.source)):
            return entry
    return None


def missing_translator_message(source: str, target: str) -> str:
    hub = _SUGGESTED.get((source, target), f"Helsinki-NLP/opus-mt-{source}-{target}")
    folder = f"~/models/{hub.split('/')[1]}"
    return (
        f"the articles are in {_LANGUAGE_NAMES[source]} and no {source}→{target} translator is pinned in models.lock "
        f"— pin an OPUS-MT Marian model: on a networked machine `hf download {hub} --revision <COMMIT> "
        f"--local-dir {folder}`, copy it here, then add to models.lock "
        f'[[model]] name = "{hub.split("/")[1]}", role = "translator", backend = "transformers-translation", '
        f'source = "hub:{hub}", revision = "<COMMIT>", location = "{folder}", files = [{{ path, sha256 }} of '
        "config.json, pytorch_model.bin, source.spm, target.spm, vocab.json, tokenizer_config.json] "
        "(format: the comment at the top of models.lock; Marian tokenizers also need `pip install sentencepiece`)"
    )


def load_translator(source: str, target: str) -> Translate:
    """A ``transformers`` seq2seq translator from models.lock, loaded offline at its pinned revision after
    its files are checked; QAError with the way to pin one when there is none."""
    from .models import offline_env, verify

    entry = translator_entry(source, target)
    if entry is None:
        raise ModelError(missing_translator_message(source, target))
    problems = verify(entry)
    if problems:
        raise ModelError(f"refusing to load translator {entry.name}: " + "; ".join(str(p) for p in problems))
    folder = str(entry.resolved_dir())
    revision = entry.revision if entry.distribution is None else None
    offline_env()
    # Imported here: transformers pulls in torch (seconds), which only --lang pays.
    try:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
    except ImportError as exc:
        raise ModelError("--lang needs the 'torch' extra: pip install -e '.[torch]'") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, revision=revision, local_files_only=True)
        model = AutoModelForSeq2SeqLM.from_pretrained(folder, revision=revision, local_files_only=True)
    except Exception as exc:  # many types for a missing file or a missing tokenizer dependency
        raise ModelError(f"cannot load translator {entry.name} from {folder}: {exc}") from exc
    model.eval()

    def translate(texts: list[str]) -> list[str]:
        if not texts:
            return []
        batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=512)
        with torch.no_grad():
            output = model.generate(**batch, num_beams=4, max_new_tokens=256)
        return [t.strip() for t in tokenizer.batch_decode(output, skip_special_tokens=True)]

    return translate
