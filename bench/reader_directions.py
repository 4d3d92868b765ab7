"""The reader per language direction, given the paragraph that holds the answer: Korean questions over
Korean text, English questions over Korean text, Korean questions over English text.

* ko -> ko: a seeded sample of KorQuAD v1.0 dev questions of the held-out articles (qa/weights/split.json);
* en -> ko: our English questions of tests/data/dev/en_over_korquad.jsonl and en_written_korquad.jsonl whose
  article is held out;
* ko -> ko news, en -> ko news: the answerable questions of tests/data/dev/ko_news.jsonl over their whole
  article (web boilerplate and all);
* ko -> en: the Korean questions of tests/data/dev/seeds_en_archive.jsonl over our English articles
  (the paragraph of tests/data/dev/en_news*.txt that holds an answer).

Dev sets only: never the public gold. Prints per direction the KorQuAD F1 of the best span (no-answer
excluded) and how often the reader prefers no-answer, as bench/build_reader.py scores held-out questions.

    python bench/reader_directions.py [--graph qa/weights/e5-reader.onnx] [--sample 300]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.build_reader import evaluate, held_out_questions  # noqa: E402
from bench.calibrate import DEV, KORQUAD, _read  # noqa: E402

SPLIT = ROOT / "qa" / "weights" / "split.json"


def direction_sets(sample: int, seed: int) -> dict[str, list[dict]]:
    data = json.loads(KORQUAD.read_text(encoding="utf-8"))["data"]
    held = json.loads(SPLIT.read_text(encoding="utf-8"))["held_out"]["articles"]
    korean = held_out_questions(data, held)
    contexts = {q["doc_id"]: q["context"] for q in korean}
    english = [{"id": r["id"], "question": r["question"], "context": contexts[r["doc"]], "doc_id": r["doc"],
                "golds": r["answers"]} for r in _read(DEV / "en_over_korquad.jsonl") if r["doc"] in contexts]
    paragraphs = [p for path in sorted(DEV.glob("en_news*.txt"))
                  for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    over_english = []
    for r in _read(DEV / "seeds_en_archive.jsonl"):
        if r["id"].startswith("ko-over-en"):
            holding = [p for p in paragraphs if any(g in p for g in r["answers"])]
            if holding:
                over_english.append({"id": r["id"], "question": r["question"], "context": holding[0],
                                     "doc_id": r["id"], "golds": r["answers"]})
    written = [{"id": r["id"], "question": r["question"], "context": contexts[r["doc"]], "doc_id": r["doc"],
                "golds": r["answers"]} for r in _read(DEV / "en_written_korquad.jsonl") if r["doc"] in contexts]
    news = {path.stem: path.read_text(encoding="utf-8") for path in (DEV / "ko_news").glob("*.txt")}
    over_news = {lang: [{"id": r["id"], "question": r["question"], "context": news[r["doc"]], "doc_id": r["doc"],
                         "golds": r["answers"]} for r in _read(DEV / "ko_news.jsonl")
                        if r["answers"] and r["lang"] == lang and r.get("doc") in news] for lang in ("ko", "en")}
    return {"ko -> ko (KorQuAD held-out)": random.Random(seed).sample(korean, min(sample, len(korean))),
            "en -> ko (en_over_korquad, held-out articles)": english,
            "en -> ko (en_written_korquad, held-out articles)": written,
            "ko -> ko news (ko_news, whole article)": over_news["ko"],
            "en -> ko news (ko_news, whole article)": over_news["en"],
            "ko -> en (our English articles)": over_english}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", type=Path, default=ROOT / "qa" / "weights" / "e5-reader.onnx")
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from qa.e5reader import load_onnx_reader
    from qa.models import find_model

    entry = find_model(None, "embedder")
    reader = load_onnx_reader(args.graph, entry.resolved_dir() / entry.files[0].path)
    print(f"graph {args.graph}")
    for name, questions in direction_sets(args.sample, args.seed).items():
        result = evaluate(reader, questions)
        print(f"{name:48s} {result['questions']:4d} questions  F1 {result['f1']:5.1f}  "
              f"no-answer preferred {100 * result['null_preferred']:5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
