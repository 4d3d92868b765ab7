"""Stage 1: read article files, keep the article's own lines, drop web boilerplate, detect the language.

Nothing is rewritten: an article keeps its original text and a list of kept segments (offsets into it),
so every later offset points into the file exactly as the user has it.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import InputError

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
# A news file is kilobytes; a larger one is a dump or a log by mistake. 16 MB of text is hours of embedding
# and ~5x its size in memory while cleaning (measured: 50 MB -> 280 MB RSS), so larger files are skipped.
MAX_FILE_BYTES = 16 * 1024 * 1024
# Sentence splitters are superlinear on long input (pysbd on one 200 KB line: 16 s; Kiwi on a 1 MB line:
# 27 s), so a kept line longer than this is cut into windows, at a sentence end or a space, before analysis.
MAX_SEGMENT_CHARS = 5000
LONG_LINE_CHARS = 1000  # a line this long is article text (a page scraped onto one line), never a menu or footer
_TAIL_CHARS = 200  # end-anchored patterns look at most this far back: they stay linear on any line
# Bump when find_segments keeps different text for the same file: an index then re-analyses every article
# instead of reusing the segments of the old cleaner.
CLEANER_VERSION = 3


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    kind: str  # "body", "heading" or "caption" (a photo caption's statement: answerable, not quoted in summaries)


@dataclass
class Article:
    doc_id: str
    title: str
    text: str  # the original text (for .html: the extracted text; see read_html)
    lang: str  # "ko" or "en"
    source: str  # path the article came from
    segments: list[Segment] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass
class IngestReport:
    articles: list[Article]
    skipped: list[tuple[str, str]]  # (path, reason)


# --- language -----------------------------------------------------------------------------------------

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> str:
    """'ko' when Hangul makes up a fair share of the letters, else 'en'.

    Our own two-line rule instead of a language-id library: the archive holds only Korean and English,
    and Korean text written with many Latin acronyms (AI, GPU, H800) must still count as Korean.
    """
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    if hangul == 0:
        return "en"
    # A Hangul syllable carries ~2.5 Latin letters' worth of text.
    return "ko" if hangul * 2.5 >= latin * 0.5 else "en"


# --- boilerplate --------------------------------------------------------------------------------------

_IMAGE_FILE = re.compile(r"^\S+\.(?:png|jpe?g|gif|webp|bmp|svg)(?:\?\S*)?(?:\s|$)", re.IGNORECASE)
# Phrases that mark a line as boilerplate wherever they stand in it (copyright notices)...
_BOILERPLATE_PHRASES = re.compile(
    r"본문\s*바로가기|무단\s*(?:전재|사용|복제)|재배포\s*금지|All rights reserved|Copyright\s*(?:ⓒ|©|\(C\))"
    r"|기사가 속한 카테고리|한 기사를 두 개 이상의 카테고리|해당 언론사로 연결|지금 봐야할 뉴스|이 기사를 추천",
    re.IGNORECASE,
)
# ...and menu items that are boilerplate only as a whole short line ("좋아요" inside a sentence is text).
_MENU_LINE = re.compile(
    r"^(?:AD|keyword|brunch|뉴스|광고|좋아요|구독하기|공유하기|댓글\s*\d*|기사제보|주요뉴스|쇼핑 핫아이템|매거진의 이전글.*"
    r"|관련\s*(?:기사|뉴스)|Skip to (?:main )?content|Sign in|Subscribe|Advertisement|by\s+\S+|[가-힣A-Za-z]+ 주요뉴스"
    r"|[▶☞].{0,60})$",
    re.IGNORECASE,
)
_PHOTO_CREDIT = re.compile(r"ⓒ|©|/사진=|\(사진=|사진\s*제공|^▲|^△|^본문 이미지|^\[사진\]|Photo:|Getty Images")
_FOOTER_FIELD = re.compile(
    r"^(?:대표이사|발행인|편집인|편집국장|주소|사업자등록번호|고충처리인|청소년보호책임자|통신판매업신고|등록일|제호"
    r"|대표\s*전화|대표\s*이메일|등록번호|발행일|전화|팩스|이메일)\s*[:/]"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_HASHTAGS = re.compile(r"^(?:\[[^\]]*\])?\s*(?:#[^\s#]+\s*){2,}$")  # [^\s#]: '#\S+' backtracks exponentially
_BULLET_HEADLINE = re.compile(r"^\s*[•·]\s*")
_ISSUE_LIST = re.compile(r"^\[\d+호\]")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")
_LEAD_BYLINE = re.compile(
    r"^(?:[\[(][^\])]{1,30}=[^\])]{1,20}[\])]\s*(?:(?:[가-힣]{2,4}\s*(?:기자|특파원)\s*)?=\s*)?|\[[^\]]{2,20}\]\s+)"
)
_TRAIL_BYLINE = re.compile(r"\s+[가-힣]{2,4}\s?(?:기자|특파원)\s*$")
_TRAILING_SYMBOLS = re.compile(r"[^\w.!?…\"'”’)\]]+$")
_SENTENCE_END = re.compile(r"(?:[다요죠음임함까][.!?…]?|[.!?…][\"'”’)]?)\s*$")
_NONWORD = re.compile(r"[^\w]+", re.UNICODE)
_SENTENCE_BREAK = re.compile(r"[.!?…。][\"'”’)\]]*(?=\s)")
_SPACES = re.compile(r"\s+")


# Portal page furniture, each a whole line: the section path ('경제 > 산업·재계'), the time stamp ('입력
# 2026.03.13 17:42 수정 …'), tool and reaction bars ('가 가 가 글자크기 공유', '좋아요 0 화나요 0'), the most-read
# box ('많이 본 뉴스 | 실시간 랭킹', '1 장마 시작 언제쯤 2 여름휴가 항공권 특가') and the outlet's name alone.
_BREADCRUMB = re.compile(r"^[^\s>]{1,12}(?:\s*>\s*[^\s>]{1,12}){1,3}$")
_DATE = re.compile(r"\d{4}[.\-/]\s?\d{1,2}[.\-/]\s?\d{1,2}")
_STAMP_PART = re.compile(
    rf"(?:기사)?입력|(?:최종)?수정|승인|등록|송고|업데이트|오전|오후|{_DATE.pattern}\.?|\d{{1,2}}:\d{{2}}(?::\d{{2}})?|[:|]"
)
_PAGE_TOOL = re.compile(
    r"공유(?:하기)?|글[자씨]\s?크기(?:\s?변경)?|인쇄|스크랩|북마크|요약봇|본문\s?듣기|기사\s?원문|번역|구독|좋아요|화나요|슬퍼요"
    r"|훈훈해요|놀랐어요|후속\s?기사\s?원해요|추천해요|많이\s?본\s?뉴스|실시간\s?(?:인기\s?기사|랭킹|뉴스)"
    r"|오늘의\s?핫이슈|가|\d+|[|·]"
)
_RANKED_HEADLINES = re.compile(r"^1\s+\S.*\s2\s+\S")
_OUTLET = re.compile(r"^[가-힣A-Za-z]{1,8}(?:뉴스|일보|신문|경제|스포츠|타임스|타임즈|미디어|방송|통신|투데이|닷컴)$")


def _is_page_furniture(stripped: str) -> bool:
    if _BREADCRUMB.match(stripped) or _OUTLET.match(stripped):
        return True
    if _DATE.search(stripped) and not _STAMP_PART.sub("", stripped).strip():
        return True
    if not _PAGE_TOOL.sub("", stripped).strip() and re.search(r"[가-힣]{2}", stripped):
        return True
    return bool(_RANKED_HEADLINES.match(stripped)) and not _ends_sentence(stripped)


def _is_boilerplate(line: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped in {"|", "-", "·", "…"}:
        return True
    if len(stripped) > LONG_LINE_CHARS:
        return False
    if _IMAGE_FILE.match(stripped) or _MENU_LINE.match(stripped):
        return True
    if _PHOTO_CREDIT.search(stripped) or _BOILERPLATE_PHRASES.search(stripped):
        return True
    if _FOOTER_FIELD.match(stripped) or _HASHTAGS.match(stripped) or _ISSUE_LIST.match(stripped):
        return True
    if _TABLE_RULE.match(stripped) or _is_page_furniture(stripped):
        return True
    if _BULLET_HEADLINE.match(line) and not _ends_sentence(stripped):
        return True  # lists of other stories' headlines
    if len(stripped) < 60 and _EMAIL.search(stripped):
        return True  # byline or contact line
    words = _NONWORD.sub("", stripped)
    return len(words) < 4 and not _ends_sentence(stripped)  # outlet names, menu words, emoji labels


# What opens a photo caption (image file name, ▲, "본문 이미지 -") and what ends its statement: a credit,
# a copyright notice or an e-mail address.
_CAPTION_LEAD = re.compile(r"^\s*(?:\S+\.(?:png|jpe?g|gif|webp|bmp|svg)(?:\?\S*)?\s+|[▲△]\s*|본문 이미지\s*-\s*|\[사진\]\s*)", re.IGNORECASE)
_CAPTION_CREDIT = (_PHOTO_CREDIT, _BOILERPLATE_PHRASES, _EMAIL)
_STATEMENT_END = re.compile(r"(?:[다요]\.|\.)(?=[\s\"'”’)]|$)")
_MIN_CAPTION_CHARS = 15
_MIN_ENGLISH_CAPTION_WORDS = 6


def _caption_statement(line: str) -> tuple[int, int] | None:
    """Where a boilerplate-marked line states a fact before its credit, e.g. a photo caption
    "(라스베이거스=뉴스1) = 젠슨 황 … 루빈 GPU를 선보이고 있다. (공동취재) … Copyright (C) 뉴스1 …":
    the span of its complete sentences (offsets into ``line``), else None.

    News captions carry facts the body does not repeat; nominal captions ("딥시크의 로고.", "The H100 chip.")
    say nothing and stay dropped, as does everything from the credit on.
    """
    lead = _CAPTION_LEAD.match(line)
    start = lead.end() if lead else 0
    cut = min([m.start() for m in (p.search(line, start) for p in _CAPTION_CREDIT) if m] + [len(line)])
    if lead is None and cut == len(line):
        return None  # neither opened nor closed like a caption: a menu line, a related-news link
    ends = [m.end() for m in _STATEMENT_END.finditer(line, start, cut)]
    for end in reversed(ends):
        statement = line[start:end].strip()
        korean = statement.endswith(("다.", "요."))
        if len(statement) >= _MIN_CAPTION_CHARS and (korean or (not _HANGUL.search(statement) and len(statement.split()) >= _MIN_ENGLISH_CAPTION_WORDS)):
            return start, end
    return None


def _ends_sentence(line: str) -> bool:
    return bool(_SENTENCE_END.search(_TRAILING_SYMBOLS.sub("", line[-_TAIL_CHARS:])))


def _is_heading(line: str) -> bool:
    """Headlines: short, and not ending like a statement (a closing '?' is common in headlines)."""
    stripped = line.strip().lstrip("#").strip()
    if len(stripped) > LONG_LINE_CHARS:
        return False
    stripped = _TRAILING_SYMBOLS.sub("", stripped)
    if not 6 <= len(stripped) <= 120 or stripped.endswith("."):
        return False
    return not re.search(r"[다요죠][.!…]?[\"'”’]?$", stripped)  # nominal endings (…움직임) are headline style


def _lines(text: str) -> Iterator[tuple[int, int]]:
    offset = 0
    for line in text.splitlines(keepends=True):
        yield offset, offset + len(line.rstrip("\r\n"))
        offset += len(line)


def find_segments(text: str) -> list[Segment]:
    """Kept lines of an article (body or heading), offsets into ``text``.

    A line printed more than once (outlet name between photos, a table of contents repeating the
    section headings, an image's alt text) is kept once, at its last place; short ones not at all.
    """
    lines = list(_lines(text))
    last_place: dict[str, int] = {}
    counts: dict[str, int] = {}
    for number, (start, end) in enumerate(lines):
        key = text[start:end].strip()
        last_place[key] = number
        counts[key] = counts.get(key, 0) + 1
    segments: list[Segment] = []
    for number, (start, end) in enumerate(lines):
        body = text[start:end]
        key = body.strip()
        kind = None
        if _is_boilerplate(body):
            caption = _caption_statement(body)
            if caption is None:
                continue
            start, end, kind = start + caption[0], start + caption[1], "caption"
            body = text[start:end]
        if counts[key] > 1 and (len(key) <= 12 or last_place[key] != number):
            continue
        lead = _LEAD_BYLINE.match(body)  # "(서울=뉴스1) 이창규 기자 = " opens the first sentence
        if lead and lead.end() < len(body):
            start += lead.end()
            body = text[start:end]
        trail = _TRAIL_BYLINE.search(body, max(0, len(body) - _TAIL_CHARS))  # "... 바라봤다. 김용원 기자"
        if trail and _ends_sentence(body[: trail.start()]):
            end = start + trail.start()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            kind = kind or ("heading" if _is_heading(text[start:end]) else "body")
            segments.extend(Segment(a, b, kind) for a, b in _windows(text, start, end))
    return segments


def _windows(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """``text[start:end]`` in pieces of at most MAX_SEGMENT_CHARS, each cut after the last sentence end in its
    second half, else before the last space there, else hard; no piece starts or ends with whitespace."""
    while end - start > MAX_SEGMENT_CHARS:
        half, limit = start + MAX_SEGMENT_CHARS // 2, start + MAX_SEGMENT_CHARS
        cut = _last_end(_SENTENCE_BREAK, text, half, limit) or _last_start(_SPACES, text, half, limit) or limit
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        if piece_end > start:
            yield start, piece_end
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        yield start, end


def _last_end(pattern: re.Pattern, text: str, start: int, stop: int) -> int | None:
    ends = [m.end() for m in pattern.finditer(text, start, stop)]
    return ends[-1] if ends else None


def _last_start(pattern: re.Pattern, text: str, start: int, stop: int) -> int | None:
    starts = [m.start() for m in pattern.finditer(text, start, stop)]
    return starts[-1] if starts else None


def _title_from(text: str, fallback: str) -> str:
    """The first headline-like line that is not boilerplate."""
    for number, (start, end) in enumerate(_lines(text)):
        line = text[start:end]
        if number > 30:
            break
        candidate = line.strip().lstrip("#").strip()
        if not _is_boilerplate(line) and _is_heading(line) and len(_NONWORD.sub("", candidate)) >= 6:
            return candidate
    return fallback


# --- readers ------------------------------------------------------------------------------------------


def _decode(raw: bytes, path: str) -> str:
    if b"\x00" in raw[:8192]:
        raise InputError(f"{path}: binary file, not text")
    for encoding in ("utf-8-sig", "cp949"):  # cp949 is a superset of EUC-KR, common for Korean files
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: not UTF-8 or CP949/EUC-KR text")


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(
                f"{path}: {size / (1024 * 1024):.0f} MB is over the {MAX_FILE_BYTES // (1024 * 1024)} MB limit for one file"
                " — split it into smaller files"
            )
        return path.read_bytes()
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def make_article(doc_id: str, text: str, source: str, title: str | None = None) -> Article:
    if not text.strip():
        raise InputError(f"{source}: empty article")
    segments = find_segments(text)
    if not segments:
        raise InputError(f"{source}: no article text left after removing boilerplate")
    kept = " ".join(text[s.start : s.end] for s in segments)
    return Article(
        doc_id=doc_id,
        title=title or _title_from(text, fallback=doc_id),
        text=text,
        lang=detect_language(kept),
        source=source,
        segments=segments,
    )


class _HTMLText:
    """Visible text of an HTML page, one block element per line (stdlib parser: no extra dependency)."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "header", "footer", "title", "figcaption", "blockquote"}
    SKIP = {"script", "style", "noscript", "nav", "aside", "form", "button", "svg", "iframe"}

    def __call__(self, markup: str) -> tuple[str, str | None]:
        from html.parser import HTMLParser

        parts: list[str] = []
        title: list[str] = []
        state = {"skip": 0, "in_title": False, "h1": None}

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                if tag in _HTMLText.SKIP:
                    state["skip"] += 1
                if tag in _HTMLText.BLOCKS:
                    parts.append("\n")
                if tag == "title":
                    state["in_title"] = True
                if tag == "h1" and state["h1"] is None:
                    state["h1"] = []

            def handle_endtag(self, tag):
                if tag in _HTMLText.SKIP and state["skip"]:
                    state["skip"] -= 1
                if tag in _HTMLText.BLOCKS:
                    parts.append("\n")
                if tag == "title":
                    state["in_title"] = False
                if tag == "h1" and isinstance(state["h1"], list):
                    state["h1"] = "".join(state["h1"]).strip() or None

            def handle_data(self, data):
                if state["in_title"]:
                    title.append(data)
                    return
                if state["skip"]:
                    return
                if isinstance(state["h1"], list):
                    state["h1"].append(data)
                parts.append(data)

        parser = Parser(convert_charrefs=True)
        parser.feed(markup)
        parser.close()
        lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parts).split("\n")]
        text = "\n".join(line for line in lines if line)
        heading = state["h1"] if isinstance(state["h1"], str) else None
        return text + "\n", heading or (html.unescape("".join(title)).strip() or None)


def read_file(path: Path, skipped: list[tuple[str, str]] | None = None) -> list[Article]:
    """Articles in one file: one for .txt/.md/.html, one per line for .jsonl. A bad .jsonl line goes to
    ``skipped`` (when given) and the file's other lines are kept; without ``skipped`` it fails the file."""
    raw = _read_bytes(path)
    if not raw.strip():
        raise InputError(f"{path}: empty file")
    text = _decode(raw, str(path))
    if not text.strip():
        raise InputError(f"{path}: empty file")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return list(_read_jsonl(text, path, skipped))
    if suffix in (".html", ".htm"):
        body, title = _HTMLText()(text)
        return [make_article(path.stem, body, str(path), title=title)]
    return [make_article(path.stem, text, str(path))]


def _read_jsonl(text: str, path: Path, skipped: list[tuple[str, str]] | None) -> Iterator[Article]:
    # "\n" only: JSON strings may hold U+2028 and other characters str.splitlines() would break lines at.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield _jsonl_article(line, f"{path}:{number}")
        except InputError as exc:
            if skipped is None:
                raise
            skipped.append((f"{path}:{number}", str(exc)))


def _jsonl_article(line: str, source: str) -> Article:
    try:
        record = json.loads(line)
        doc_id, body, title = str(record["id"]), record["text"], record.get("title")
        if not isinstance(body, str):
            raise TypeError("text is not a string")
        if title is not None and not isinstance(title, str):
            raise TypeError("title is not a string")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: a line that is not an object
        raise InputError(f"{source}: malformed JSONL line ({exc.__class__.__name__}: {exc})") from None
    return make_article(doc_id, body, source, title=title or None)


def discover(paths: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Supported files under the given paths (sorted, each once), and the paths that could not be used."""
    found: dict[str, Path] = {}
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            problems.append((raw, "broken or looping symbolic link" if path.is_symlink() else "no such file or directory"))
        elif path.is_dir():
            before = len(found)
            for root, dirs, files in os.walk(path, followlinks=False):  # no following: symlink loops end
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    candidate = Path(root) / name
                    if candidate.suffix.lower() in SUPPORTED_SUFFIXES and not name.startswith("."):
                        found.setdefault(_real(candidate), candidate)
            if len(found) == before:
                problems.append((raw, f"no {'/'.join(s.lstrip('.') for s in SUPPORTED_SUFFIXES)} files"))
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.setdefault(_real(path), path)
        else:
            problems.append((raw, f"unsupported file type {path.suffix or '(none)'}"))
    return sorted(found.values(), key=lambda p: str(p)), problems


def _real(path: Path) -> str:
    """The path with symlinks resolved (one file reached two ways is read once); a looping link stays as it
    is and fails when read, with its own message."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # Python < 3.13 raises RuntimeError on a symlink loop
        return os.path.abspath(path)


def ingest(paths: list[str]) -> IngestReport:
    """Read every supported file; a bad file is skipped with a reason, the rest still ingested."""
    files, skipped = discover(paths)
    articles: list[Article] = []
    seen: set[str] = set()
    for path in files:
        try:
            batch = read_file(path, skipped)
        except InputError as exc:
            skipped.append((str(path), str(exc)))
            continue
        for article in batch:
            if article.doc_id in seen:
                skipped.append((article.source, f"duplicate article id {article.doc_id!r}"))
                continue
            seen.add(article.doc_id)
            articles.append(article)
    return IngestReport(articles, skipped)
