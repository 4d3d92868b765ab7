"""Average the weights of reader deltas that were continued from one ancestor (a "model soup"), to score the
average as a reader of its own: `python bench/build_reader.py --from-delta OUT` exports it as a graph and
`python bench/reader_directions.py --graph …` scores it per language direction. Tensors are averaged in
float32 and stored in the first delta's dtype; the deltas must hold the same tensors with the same shapes.

    python bench/reader_soup.py --out /tmp/soup/reader-delta.safetensors DELTA DELTA [DELTA ...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def averaged(deltas: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The element-wise mean of ``deltas`` ({name: array}), each tensor in the first delta's dtype."""
    names = set(deltas[0])
    for delta in deltas[1:]:
        if set(delta) != names:
            raise SystemExit(f"the deltas hold different tensors: {sorted(names ^ set(delta))[:5]}")
    return {name: np.mean([d[name].astype(np.float32) for d in deltas], axis=0).astype(deltas[0][name].dtype)
            for name in sorted(names)}


def main(argv: list[str] | None = None) -> int:
    from safetensors.numpy import load_file, save_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("deltas", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if len(args.deltas) < 2:
        parser.error("give two deltas or more")
    soup = averaged([load_file(str(path)) for path in args.deltas])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(soup, str(args.out))
    print(f"{len(soup)} tensors averaged over {len(args.deltas)} deltas -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
