"""Speed figures for the README, measured in one run on this machine:

- index build of the seeds (wall time, chunks/s, peak memory) into a fresh folder;
- the first `qa ask` with the reader (the pinned model files are hashed into qa's digest cache, a fresh
  one here), then cold `qa ask` on the built index (new process each time),
  median of 5, and its peak memory, with the reader and with rules only;
- `qa chat`: seconds per question after the first, over the public gold questions piped in, both ways.

    python bench/latency.py [--gold ../shared/gold/seeds.jsonl]

No timed unit tests: these are figures to read, not thresholds to trip.
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
QA = [sys.executable, "-m", "qa.cli"]


def timed(args: list[str], stdin: str | None = None, env: dict | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS of this child in MB (read by a wrapper around it), stdout."""
    wrapper = [sys.executable, "-c", _PEAK_WRAPPER, *args]
    started = time.perf_counter()
    done = subprocess.run(wrapper, input=stdin, capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    peak = int(done.stderr.strip().splitlines()[-1].split("=")[1])
    return seconds, peak // 1024, done.stdout


# Runs the command as its own child and prints that child's peak RSS (KB) last on stderr.
_PEAK_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
print("peak_kb=%d" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gold", default=str(ROOT.parent / "shared/gold/seeds.jsonl"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-bytecode", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE: every start compiles qa's modules from source")
    args = parser.parse_args()
    env = dict(os.environ)
    if not args.no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: the first run compiles, later ones load .pyc
    with tempfile.TemporaryDirectory() as scratch:
        env["QA_CACHE_DIR"] = str(Path(scratch) / "cache")  # starts empty: the first question fills it
        index_dir = str(Path(scratch) / "index")
        seconds, peak, out = timed(QA + ["index", "seeds", "--index-dir", index_dir], env=env)
        chunks = int(out.split(" chunks")[0].split()[-1])
        print(f"index build (seeds): {seconds:.1f} s wall, {chunks} chunks, {chunks / seconds:.1f} chunks/s, peak {peak} MB")
        seconds, _, _ = timed(QA + ["index", "seeds", "--index-dir", index_dir], env=env)
        print(f"re-index, nothing changed: {seconds:.2f} s")

        question = "엔비디아의 주가는 하루에 몇 퍼센트 급락했나?"
        english = "How many H800 GPU hours did the training take?"
        questions = [json.loads(line)["question"] for line in Path(args.gold).read_text(encoding="utf-8").splitlines() if line.strip()]
        seconds, _, _ = timed(QA + ["ask", question, "--index-dir", index_dir, "--reader"], env=env)
        print(f"[reader] first qa ask (hashes the pinned model files into the cache): {seconds:.3f} s")
        for mode, flag in (("reader", "--reader"), ("rules only", "--no-reader")):
            cold = [timed(QA + ["ask", question, "--index-dir", index_dir, flag], env=env)[0] for _ in range(args.runs)]
            _, peak, _ = timed(QA + ["ask", question, "--index-dir", index_dir, flag], env=env)
            print(f"[{mode}] cold qa ask: median {statistics.median(cold):.3f} s of {args.runs} "
                  f"(min {min(cold):.3f}, max {max(cold):.3f}), peak {peak} MB")
            cold_en = [timed(QA + ["ask", english, "--index-dir", index_dir, flag], env=env)[0] for _ in range(args.runs)]
            print(f"[{mode}] cold qa ask (English): median {statistics.median(cold_en):.3f} s of {args.runs}")
            # Per question inside one chat process: the first question (which loads the reader) apart, then
            # the rest: total minus the time to the first answer, divided by the questions after it.
            first, _, _ = timed(QA + ["chat", "--json", "--index-dir", index_dir, flag], stdin=questions[0] + "\n", env=env)
            total, _, out = timed(QA + ["chat", "--json", "--index-dir", index_dir, flag],
                                  stdin="\n".join(questions) + "\n", env=env)
            answered = len(out.strip().splitlines())
            print(f"[{mode}] qa chat: {answered} questions in {total:.2f} s; start-up + first question {first:.2f} s; "
                  f"{(total - first) / max(answered - 1, 1):.3f} s per later question")

if __name__ == "__main__":
    main()
