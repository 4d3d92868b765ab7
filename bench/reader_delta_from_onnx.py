"""Recover a trainable delta from the shipped reader graph, so that a later run can continue training the
shipped reader (bench/build_reader.py --init-delta) without the 105 minutes of training that made it: the
delta files of those runs were not committed, only the graph (qa/weights/e5-reader.onnx).

The graph holds every trained tensor: LayerNorms, biases, position and token-type embeddings and the QA head
as float32 initializers named after the torch parameters ('qa.bert.encoder.layer.0.output.dense.bias'), and
each Linear weight as int8 blocks behind a DequantizeLinear node named after its module
('/qa/bert/encoder/layer.0/attention/self/query/MatMul_Q8.dequantize'), transposed (MatMul takes [in, out]).
Dequantized, they are the shipped weights exactly (8-bit: held-out F1 79.77 against 79.89 for the fp16
delta they were exported from). Names survive only for tensors that differ: torch's exporter merges equal
initializers (an untrained model's zero biases) under one name, so a missing tensor is an error, never a
guess. The check loads the recovered delta into a torch BertForQuestionAnswering and compares its spans and
supports with the graph's, served as `qa ask` serves it, on real windows.

    python bench/reader_delta_from_onnx.py [--graph qa/weights/e5-reader.onnx] --out /tmp/shipped-delta.safetensors
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PREFIX = "qa."  # export_onnx wraps the model as `self.qa`
DEQUANTIZED = "/MatMul_Q8.dequantize"


def delta_from_graph(graph_path: Path) -> dict[str, np.ndarray]:
    """{torch parameter name: float32 array} of every tensor the graph holds."""
    import onnx
    from onnx import helper, numpy_helper

    graph = onnx.load(str(graph_path)).graph
    initializers = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    state = {name[len(PREFIX):]: array.astype(np.float32) for name, array in initializers.items()
             if name.startswith(PREFIX)}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not node.name.endswith(DEQUANTIZED):
            continue
        module = node.name[len("/" + PREFIX.rstrip(".") + "/"):-len(DEQUANTIZED)].replace("/", ".")
        block = {a.name: helper.get_attribute_value(a) for a in node.attribute}["block_size"]
        quantized, scales = initializers[node.input[0]], initializers[node.input[1]]  # [in, out], [in / block, out]
        weight = quantized.astype(np.float32) * np.repeat(scales.astype(np.float32), block, axis=0)[: len(quantized)]
        state[f"{module}.weight"] = weight.T  # torch Linear: [out, in]
    return state


def check(state: dict[str, np.ndarray], graph_path: Path) -> float:
    """The largest difference between the graph's start/end logits and those of a torch model carrying the
    recovered delta, on windows of KorQuAD questions; raises when a trainable tensor is missing."""
    import torch

    from bench.build_reader import KORQUAD, build_model, trainable_names
    from qa.e5reader import load_onnx_reader
    from qa.models import find_model
    from qa.reader import E5Windows, Reader, TorchRunner

    model, tokenizer, _ = build_model(seed=0)
    missing = [name for name in trainable_names(model, model.config.num_hidden_layers) if name not in state]
    unexpected = model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=False).unexpected_keys
    if missing or unexpected:
        raise SystemExit(f"the graph does not fit the model: missing {missing}, unexpected {unexpected}")
    model.eval()
    entry = find_model(None, "embedder")
    served = load_onnx_reader(graph_path, entry.resolved_dir() / entry.files[0].path)
    windows = E5Windows(tokenizer, 256, 128)
    trained = Reader(TorchRunner(model, windows.pad_id, batch_size=4), windows, name="recovered")
    import json

    paragraph = json.loads(KORQUAD.read_text(encoding="utf-8"))["data"][0]["paragraphs"][0]
    worst = 0.0
    for qa in paragraph["qas"][:4]:
        ours = trained.read(qa["question"], [("p", paragraph["context"], 0)], top_k=3)
        theirs = served.read(qa["question"], [("p", paragraph["context"], 0)], top_k=3)
        print(f"{qa['question'][:40]}: torch {[(s.text, round(s.support, 3)) for s in ours]} | graph "
              f"{[(s.text, round(s.support, 3)) for s in theirs]}")
        if [s.text for s in ours] != [s.text for s in theirs]:
            worst = max(worst, 1.0)
        worst = max([worst] + [abs(a.support - b.support) for a, b in zip(ours, theirs)])
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", type=Path, default=ROOT / "qa" / "weights" / "e5-reader.onnx")
    parser.add_argument("--out", type=Path, required=True, help="where to write the delta (fp16 safetensors)")
    args = parser.parse_args()
    from qa.models import offline_env

    offline_env()
    import torch
    from safetensors.torch import save_file

    state = delta_from_graph(args.graph)
    difference = check(state, args.graph)
    print(f"{len(state)} tensors; largest support difference, torch vs graph: {difference:.4f}")
    graph_sha = hashlib.sha256(args.graph.read_bytes()).hexdigest()
    save_file({k: torch.from_numpy(v.copy()).half() for k, v in state.items()}, str(args.out),
              metadata={"recovered_from": args.graph.name, "graph_sha256": graph_sha})
    print(f"wrote {args.out} (sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()})")
    return 0 if difference < 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
