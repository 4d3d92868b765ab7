"""Shared fixtures: a deterministic fake embedder for fast tests, real Kiwi loaded once per session."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.embed import EmbedderInfo

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


class FakeEmbedder:
    """Hashes character bigrams into 64 dimensions: similar strings get similar vectors, no model needed."""

    def __init__(self, name: str = "fake-bigram", dimension: int = 64):
        self.info = EmbedderInfo(name, "fake", "1", hashlib.sha256(name.encode()).hexdigest(), dimension)

    def _embed(self, texts):
        out = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            text = text.lower()
            for a, b in zip(text, text[1:]):
                bucket = int(hashlib.md5((a + b).encode()).hexdigest()[:8], 16) % self.info.dimension
                out[row, bucket] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    embed_queries = _embed
    embed_passages = _embed

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2


@pytest.fixture
def fake_models(monkeypatch):
    """Every command gets the fake embedder instead of the pinned model."""
    embedders = {}

    def load(name=None, verify_files=True):
        name = name or "fake-bigram"
        return embedders.setdefault(name, FakeEmbedder(name))

    monkeypatch.setattr("qa.models.load_embedder", load)
    return embedders


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture(scope="session")
def kiwi():
    from qa.chunk import KiwiAnalyzer

    return KiwiAnalyzer()


@pytest.fixture(scope="session")
def seeds_index_fake(tmp_path_factory):
    """The seed articles indexed with the fake embedder (real Kiwi analysis), built once."""
    from qa.session import update_index

    index_dir = tmp_path_factory.mktemp("index-fake")
    update_index([str(SEEDS)], index_dir, FakeEmbedder())
    return index_dir


@pytest.fixture
def index_copy(seeds_index_fake, tmp_path):
    """A private copy of the fake seeds index, free to damage."""
    target = tmp_path / "index"
    shutil.copytree(seeds_index_fake, target)
    return target
