"""The command line: parse, make one core call, format. The only module that imports click."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import click

from .errors import QAError, UsageError

INDEX_DIR_OPTION = click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="QA_INDEX_DIR",
    default="index",
    show_default=True,
    help="Index folder (env QA_INDEX_DIR).",
)
MODEL_OPTION = click.option(
    "--model", default=None, envvar="QA_MODEL",
    help="Embedder name from models.lock (default: the index's model, else the lock's default).",
)


class _Progress:
    """A click progress bar on stderr per stage; silent when stderr is not a terminal."""

    def __init__(self):
        self.bar = None
        self.stage = None
        self.enabled = sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = click.progressbar(length=max(total, 1), label=f"{stage:<10}", file=sys.stderr, width=30)
            self.bar.__enter__()
            self.done = 0
        self.bar.update(done - self.done)
        self.done = done

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _fail(exc: QAError):
    if isinstance(exc, UsageError):
        raise click.UsageError(str(exc))
    raise click.ClickException(str(exc))


def _embedder(model: str | None, index_dir: Path | None):
    from .index import read_manifest
    from .errors import IndexMissingError, IndexCorruptError
    from .models import load_embedder

    if model is None and index_dir is not None:
        try:
            model = read_manifest(index_dir).embedder.get("name")
        except (IndexMissingError, IndexCorruptError):
            model = None
    return load_embedder(model)


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except QAError as exc:
            _fail(exc)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # `qa ask … | head -1`: the reader left; say nothing more
            sys.stdout = open(os.devnull, "w")
            sys.exit(0)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: one line for the user, the traceback with QA_DEBUG=1
            if os.environ.get("QA_DEBUG"):
                raise
            raise click.ClickException(f"internal error: {exc.__class__.__name__}: {exc} (set QA_DEBUG=1 for details)")


@click.group(cls=_Group)
@click.version_option(package_name="qa")
@click.pass_context
def main(ctx):
    """Ask questions of a local news archive (Korean and English); answers are exact, cited spans.

    \b
    Example:
      qa index seeds/
      qa ask "엔비디아의 주가는 하루에 몇 퍼센트 급락했나?"
    """
    # Never reach a model hub: every model is pinned and local (models.lock). Forced, not defaulted.
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    if ctx.invoked_subcommand != "index":
        # A question is a few dozen tokens: a second OpenMP thread only adds wake-up latency
        # (measured: 0.03 s per query with one thread, 0.15-0.5 s with two). Bulk indexing keeps the default.
        os.environ.setdefault("OMP_NUM_THREADS", "1")


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@INDEX_DIR_OPTION
@MODEL_OPTION
@click.option("--prune", is_flag=True, help="Drop indexed articles that are not under PATHS.")
@click.option("--rebuild", is_flag=True, help="Start over instead of reusing unchanged articles.")
def index_command(paths, index_dir, model, prune, rebuild):
    """Index article files or folders (.txt .md .html .jsonl); default: seeds/.

    Unchanged articles are reused; changed ones are re-read. Example: qa index seeds/ --prune
    """
    from .session import update_index

    progress = _Progress()
    try:
        result = update_index(list(paths) or ["seeds"], index_dir, _embedder(model, None if rebuild else index_dir),
                              prune=prune, rebuild=rebuild, progress=progress)
    finally:
        progress.close()
    for path, reason in result.report.skipped:
        click.echo(f"skipped: {reason if path in reason else f'{path}: {reason}'}", err=True)
    manifest = result.index.manifest
    chunks = sum(d.chunks for d in manifest.docs)
    if not (result.added or result.changed or result.removed):
        click.echo(f"index in {index_dir}/ is up to date: {len(manifest.docs)} articles, {chunks} chunks")
        return
    click.echo(
        f"indexed {len(manifest.docs)} articles, {chunks} chunks in {index_dir}/ "
        f"({len(result.added)} added, {len(result.changed)} changed, {len(result.unchanged)} unchanged, "
        f"{len(result.removed)} removed; {manifest.build_seconds:.1f} s)"
    )


def _result_json(result) -> dict:
    return {
        "question": result.question,
        "language": result.language,
        "answer": result.answer,
        "confidence": result.confidence,
        "gloss": result.gloss,
        "answered_by": result.answered_by,
        "citation": asdict(result.citation) if result.citation else None,
        "guess": asdict(result.guess) if result.guess else None,
        "passages": [
            {"doc_id": p.chunk.doc_id, "title": p.title, "passage": p.chunk.text, "passage_start": p.chunk.start,
             "passage_end": p.chunk.end, "score": round(p.score, 4)}
            for p in result.passages
        ],
    }


def _highlight(passage: str, start: int, end: int) -> str:
    marked = click.style(passage[start:end], bold=True, underline=True)
    if not sys.stdout.isatty():
        marked = f"[[{passage[start:end]}]]"
    return passage[:start] + marked + passage[end:]


def _print_result(result, show_sources: bool = False) -> None:
    if result.answer is None:
        # not "below the threshold": a read can clear the confidence floor and still be declined (its support
        # under the reader's threshold, a rules span under RULES_FLOOR_AFTER_READER)
        click.echo(f"No answer in the archive: nothing found was sure enough (best confidence {result.confidence:.2f}).")
        if result.guess:
            gloss = f"  (≈ {result.guess.gloss})" if result.guess.gloss else ""
            click.echo(f"Unsure guess, not an answer: {result.guess.text}{gloss}   confidence {result.guess.confidence:.2f}")
            _print_citation(result.guess.citation)
    else:
        gloss = f"  (≈ {result.gloss})" if result.gloss else ""
        click.echo(f"Answer: {result.answer}{gloss}   confidence {result.confidence:.2f}")
        _print_citation(result.citation)
    if show_sources:
        _print_sources(result)


def _print_citation(citation) -> None:
    click.echo(f"Source: {citation.doc_id} — {citation.title}  [chars {citation.start}–{citation.end}]")
    passage = _highlight(citation.passage, citation.start - citation.passage_start, citation.end - citation.passage_start)
    click.echo("  " + passage.replace("\n", "\n  "))


CHAT_COMMANDS = ":sources the last answer's passages, :help these commands, :q quit"


def _print_sources(result) -> None:
    for rank, p in enumerate(result.passages, start=1):
        text = " ".join(p.chunk.text.split())
        click.echo(f"{rank}. {p.chunk.doc_id} [{p.chunk.start}–{p.chunk.end}] score {p.score:.3f} — {p.title}")
        click.echo(f"   {text[:300]}{'…' if len(text) > 300 else ''}")


def _session(index_dir: Path, model: str | None, use_reader: bool = False):
    from .session import Session

    progress = _Progress()
    try:
        return Session(index_dir, _embedder(model, index_dir), progress=progress, reader=_reader_factory(use_reader))
    finally:
        progress.close()


def _reader_factory(use_reader: bool):
    """Load the pinned reader lazily (first question that needs it); None: rule-based extraction only."""
    if not use_reader:
        return None
    from .reader import load_reader

    return load_reader


READER_OPTION = click.option(
    "--reader/--no-reader", "use_reader", default=True, show_default=True,
    help="Answer with the neural reader pinned in models.lock (falls back to rule-based extraction where it "
         "declines); --no-reader: rules only.")


@main.command()
@click.argument("question")
@INDEX_DIR_OPTION
@MODEL_OPTION
@click.option("--k", "k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages to retrieve.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--sources", is_flag=True, help="Also list the retrieved passages.")
@READER_OPTION
def ask(question, index_dir, model, k, as_json, sources, use_reader):
    """Answer QUESTION (Korean or English) with an exact span from the archive, or decline.

    Builds the index from seeds/ on first use. Example: qa ask "Who is the author of the newsletter?"
    """
    from .session import validate_question

    validate_question(question)  # before loading anything
    result = _session(index_dir, model, use_reader).ask(question, k=k)
    if as_json:
        click.echo(json.dumps(_result_json(result), ensure_ascii=False))
    else:
        _print_result(result, show_sources=sources)


@main.command()
@click.argument("doc_ids", nargs=-1)
@click.option("--all", "all_docs", is_flag=True, help="Summarize every indexed article together.")
@click.option("--query", default=None, help="Summarize the articles retrieved for this topic or question, focused on it.")
@click.option("--sentences", "max_sentences", type=int, default=None,
              help="Sentences to extract (default: 3 for one article, up to 7 for several).")
@click.option("--chars", "max_chars", type=int, default=None, help="At most this many characters in all.")
@click.option("--lang", type=click.Choice(["ko", "en"]), default=None,
              help="Summary language; sentences from articles in the other language are translated by the "
                   "translator pinned in models.lock (citations stay on the originals).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@INDEX_DIR_OPTION
@MODEL_OPTION
def summarize(doc_ids, all_docs, query, max_sentences, max_chars, lang, as_json, index_dir, model):
    """Extractive summary of DOC_IDS, of --all articles, or of what the archive says about --query.

    Every sentence is quoted from an article and cited by id and character offsets.

    \b
    Examples:
      qa summarize 002_68cb2df34e3786ef
      qa summarize --all --sentences 5
      qa summarize --query "H800 칩 수출 규제" --json
    """
    from .summarize import summarize as summarize_articles

    session = _session(index_dir, model)
    summary = summarize_articles(session.index, session.embedder, doc_ids=list(doc_ids), all_docs=all_docs,
                                 query=query, max_sentences=max_sentences, max_chars=max_chars, lang=lang)
    if as_json:
        click.echo(json.dumps(summary.to_json(), ensure_ascii=False))
        return
    for s in summary.sentences:
        click.echo(f"- {s.translation or s.text}")
        if s.translation:
            click.echo(f"  (original: {s.text})")
        click.echo(f"  [{s.doc_id} chars {s.start}–{s.end}] {s.title}")
    click.echo(f"{len(summary.sentences)} sentences from {len({s.doc_id for s in summary.sentences})} article(s); {summary.method}", err=True)


@main.command()
@INDEX_DIR_OPTION
@MODEL_OPTION
@click.option("--k", "k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages to retrieve.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@READER_OPTION
def chat(index_dir, model, k, as_json, use_reader):
    """Ask question after question with the model loaded once.

    \b
    Type a question and press Enter; `:sources` lists the last answer's passages, `:help` the commands,
    `:q` quits.
    Example: printf 'R1은 언제 출시됐나?\\n:sources\\n' | qa chat
    """
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())
    session = _session(index_dir, model, use_reader)
    if interactive:
        click.echo(f"Ask a question ({CHAT_COMMANDS}).", err=True)
    last = None
    while True:
        try:
            line = input("qa> " if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            click.echo("", err=True)
            break
        line = line.strip()
        if not line:
            continue
        if line in (":q", ":quit", ":exit"):
            break
        if line == ":sources":
            if last is None:
                click.echo("no question asked yet", err=True)
            elif as_json:
                click.echo(json.dumps(_result_json(last)["passages"], ensure_ascii=False))
            else:
                _print_sources(last)
            continue
        if line.startswith(":"):  # a mistyped command is no question: the reader would answer ':help' anyway
            known = line in (":help", ":h", ":?")
            click.echo(("" if known else f"unknown command {line.split()[0]}; ") + CHAT_COMMANDS, err=True)
            continue
        try:
            last = session.ask(line, k=k)
        except UsageError as exc:
            click.echo(f"error: {exc}", err=True)
            continue
        if as_json:
            click.echo(json.dumps(_result_json(last), ensure_ascii=False))
        else:
            _print_result(last)
        sys.stdout.flush()


@main.command("eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "gold_format", type=click.Choice(["seeds", "korquad"]), default="seeds", show_default=True,
              help="seeds: JSONL of {id, lang, question, answers, doc}; korquad: SQuAD v1.1 JSON.")
@INDEX_DIR_OPTION
@MODEL_OPTION
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="QA_CACHE_DIR", default=None,
              help="Where --format korquad keeps its index of all paragraphs, reused by file hash and model "
                   "(env QA_CACHE_DIR; default ~/.cache/qa).")
@click.option("--k", "k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages to retrieve (hit@k, MRR@k).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions.")
@click.option("--sample", type=click.IntRange(min=1), default=None, help="A random N questions, fixed by --seed.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --sample.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report: metrics and one record per question.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the JSON report to this file.")
@click.option("--min-f1", type=click.FloatRange(0, 1), default=None,
              help="Exit 1 if overall KorQuAD F1 is below X, a fraction (0.6 = F1 60).")
@click.option("--min-hit", type=click.FloatRange(0, 1), default=None,
              help="Exit 1 if overall hit@k is below X, a fraction (0.8 = 80%).")
@click.option("--split", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="KorQuAD only: ask just the questions of the held-out articles of this split file "
                   "(qa/weights/split.json: the articles the reader never trained on).")
@READER_OPTION
def eval_command(gold, gold_format, index_dir, model, cache_dir, k, limit, sample, seed, as_json, out, min_f1, min_hit,
                 split, use_reader):
    """Score answers, retrieval, declines, citations and latency against the gold answers in GOLD.

    Ctrl-C prints the report so far (exit 130).

    \b
    Examples:
      qa eval ../shared/gold/seeds.jsonl --min-f1 0.5
      qa eval ../shared/data/korquad/KorQuAD_v1.0_dev.json --format korquad --sample 500 --seed 0
    """
    from .evaluate import format_report, load_gold, report_json, run_eval, threshold_failures

    gold_set = load_gold(gold, gold_format, limit=limit, sample=sample, seed=seed, split=split)  # before loading the model
    progress = _Progress()
    try:
        embedder = _embedder(model, index_dir if gold_format == "seeds" else None)
        report = run_eval(gold_set, embedder, index_dir=index_dir, k=k, cache_dir=cache_dir, progress=progress,
                          reader=_reader_factory(use_reader))
    finally:
        progress.close()
    data = report_json(report)
    if out is not None:
        out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else format_report(report))
    if report.interrupted:
        click.echo(f"interrupted after {len(report.runs)} of {report.planned} questions", err=True)
        sys.exit(130)
    failures = threshold_failures(report, min_f1=min_f1, min_hit=min_hit)
    if failures:
        raise click.ClickException("; ".join(failures))


@main.command()
@INDEX_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def docs(index_dir, as_json):
    """List the indexed articles: id, language, chunks, when indexed, title. Example: qa docs"""
    from .session import index_status

    manifest = index_status(index_dir)
    for doc in manifest.docs:
        if as_json:
            click.echo(json.dumps(asdict(doc), ensure_ascii=False))
        else:
            click.echo(f"{doc.doc_id}\t{doc.lang}\t{doc.chunks:>4} chunks\t{doc.indexed_at}\t{doc.title}")


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@INDEX_DIR_OPTION
def remove(doc_ids, index_dir):
    """Remove articles from the index by id. Example: qa remove 004_51241d96c21cc8a8"""
    from .session import remove_documents

    index = remove_documents(list(doc_ids), index_dir, _embedder(None, index_dir))
    click.echo(f"removed {len(doc_ids)}; {len(index.manifest.docs)} articles remain")


@main.group()
def models():
    """Inspect the pinned models in models.lock. Example: qa models verify"""


@models.command("list")
def models_list():
    """List pinned models: name, role, source, revision, where the files are. Example: qa models list"""
    from .models import load_lock

    from .errors import ModelError

    for entry in load_lock():
        default = " (default)" if entry.default else ""
        try:
            where = str(entry.resolved_dir())
        except ModelError:
            where = "(not installed)"
        click.echo(f"{entry.name}{default}\t{entry.role}\t{entry.backend}\t{entry.source}\t{entry.revision}\t{where}")


@models.command("verify")
@click.argument("names", nargs=-1)
def models_verify(names):
    """Check every pinned file's sha256 (exit 1 naming the file on a mismatch). Example: qa models verify"""
    from .models import load_lock, verify

    entries = [e for e in load_lock() if not names or e.name in names]
    unknown = set(names) - {e.name for e in entries}
    if unknown:
        raise click.UsageError(f"not in models.lock: {', '.join(sorted(unknown))}")
    problems = [p for e in entries for p in verify(e, rehash=True)]  # re-read the files, not the cache
    for problem in problems:
        click.echo(f"FAIL {problem}", err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} pinned file(s) do not match models.lock")
    click.echo(f"ok: {len(entries)} model(s), every file matches its sha256")


if __name__ == "__main__":  # pragma: no cover
    main()
