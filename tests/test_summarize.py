"""qa.summarize on the fake-embedder seeds index: citations, candidate filter, MMR, query focus, errors, --lang."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from qa.errors import ModelError, QAError, UsageError
from qa.index import load_index
from qa.summarize import DUPLICATE_OVERLAP, _content, is_candidate, missing_translator_message, summarize

from conftest import FakeEmbedder

DOC = "002_68cb2df34e3786ef"
NEWSLETTER = "004_51241d96c21cc8a8"


@pytest.fixture(scope="module")
def index(seeds_index_fake):
    return load_index(seeds_index_fake)


def _sentence_at(index, doc_id, start, end):
    return next(s for s in index.sentences if s.doc_id == doc_id and s.start == start and s.end == end)


def _check_citations(index, summary):
    for s in summary.sentences:
        article = index.articles[s.doc_id]
        assert article.text[s.start : s.end] == s.text
        assert s.title == article.title
        assert _sentence_at(index, s.doc_id, s.start, s.end).kind == "body"


def test_one_article_gives_three_cited_sentences_in_order(index):
    for doc_id in index.articles:
        summary = summarize(index, None, [doc_id])
        assert len(summary.sentences) == 3
        assert {s.doc_id for s in summary.sentences} == {doc_id}
        assert summary.doc_ids == [doc_id]
        starts = [s.start for s in summary.sentences]
        assert starts == sorted(starts)
        _check_citations(index, summary)
        for s in summary.sentences:
            assert not s.text.startswith(("|", "-", "#")) and "기자입니다" not in s.text
            assert s.text.rstrip("\"'”’)").endswith(".")


def test_candidate_filter_drops_headings_tables_questions_bylines_and_fragments(index):
    def find(doc_id, prefix):
        return next(s for s in index.sentences if s.doc_id == doc_id and s.text.startswith(prefix))

    rejected = [
        find("000_c68675d65c4e9324", "📌"),  # heading
        find("000_c68675d65c4e9324", "| 딥시크-R1 최적화 지원"),  # table row
        find("000_c68675d65c4e9324", "- 1. 엔비디아"),  # list item
        find("000_c68675d65c4e9324", "‘AI 기술패권 전쟁’ 격화"),  # headline without a period, kind body
        find("000_c68675d65c4e9324", "이처럼 복잡한 기술과"),  # question to the reader
        find("001_d802b5947ca02bdd", "으로 통하는"),  # fragment cut by the splitter
        find(NEWSLETTER, "서진욱 기자입니다"),  # byline
        find(NEWSLETTER, "반드시 더 발전된"),  # exclamation
    ]
    for sentence in rejected:
        assert not is_candidate(sentence, index.articles[sentence.doc_id].text), sentence.text
    assert is_candidate(find(DOC, "R1에 투입된 비용은"), index.articles[DOC].text)


def test_all_articles_share_seven_sentences_without_repeating_a_fact(index):
    summary = summarize(index, None, all_docs=True)
    assert 1 <= len(summary.sentences) <= 7
    assert len({s.doc_id for s in summary.sentences}) >= 2
    _check_citations(index, summary)
    order = list(index.articles)
    positions = [(order.index(s.doc_id), s.start) for s in summary.sentences]
    assert positions == sorted(positions)  # articles in index order, sentences in article order
    picked = [_content(_sentence_at(index, s.doc_id, s.start, s.end)) for s in summary.sentences]
    for i, a in enumerate(picked):
        for b in picked[i + 1 :]:
            assert len(a & b) / min(len(a), len(b)) < DUPLICATE_OVERLAP
    assert summarize(index, None, all_docs=True) == summary  # deterministic


def test_several_ids_keep_the_given_order_and_default_to_three_each(index):
    summary = summarize(index, None, [NEWSLETTER, DOC])
    assert summary.doc_ids == [NEWSLETTER, DOC]
    assert len(summary.sentences) == 6
    firsts = [s.doc_id for s in summary.sentences]
    assert firsts == sorted(firsts, key=[NEWSLETTER, DOC].index)


def test_length_limits(index):
    assert len(summarize(index, None, [DOC], max_sentences=5).sentences) == 5
    summary = summarize(index, None, [DOC], max_chars=200)
    assert 1 <= len(summary.sentences) and sum(len(s.text) for s in summary.sentences) + len(summary.sentences) - 1 <= 200
    with pytest.raises(UsageError, match="shorter than any"):
        summarize(index, None, [DOC], max_chars=5)


def test_query_focuses_on_its_topic(index):
    summary = summarize(index, FakeEmbedder(), query="스타게이트 프로젝트")
    assert NEWSLETTER in summary.doc_ids
    on_topic = [s for s in summary.sentences if "스타게이트" in s.text]
    assert len(on_topic) >= 2 and len(on_topic) * 2 >= len(summary.sentences)
    assert "query" in summary.method
    _check_citations(index, summary)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"doc_ids": ["nope_123"]}, "nope_123.*qa docs"),
        ({"doc_ids": [DOC], "max_sentences": 0}, "at least 1"),
        ({"doc_ids": [DOC], "max_sentences": -2}, "at least 1"),
        ({"doc_ids": [DOC], "max_chars": 0}, "at least 1"),
        ({}, "exactly one"),
        ({"doc_ids": [DOC], "all_docs": True}, "exactly one"),
        ({"all_docs": True, "query": "딥시크"}, "exactly one"),
        ({"query": "   "}, "empty"),
        ({"doc_ids": [DOC], "lang": "fr"}, "ko, en"),
    ],
)
def test_usage_errors(index, kwargs, message):
    with pytest.raises(UsageError, match=message):
        summarize(index, FakeEmbedder(), **kwargs)


def test_an_article_without_body_sentences_is_a_runtime_error(index):
    hollow = dataclasses.replace(
        index, sentences=[dataclasses.replace(s, kind="heading") if s.doc_id == DOC else s for s in index.sentences]
    )
    with pytest.raises(QAError, match=DOC) as caught:
        summarize(hollow, None, [DOC])
    assert not isinstance(caught.value, UsageError)
    assert summarize(hollow, None, all_docs=True).sentences  # --all skips it


def test_json_shape(index):
    data = summarize(index, None, [DOC]).to_json()
    assert set(data) == {"summary", "doc_ids", "method"}
    assert set(data["summary"][0]) == {"text", "doc_id", "title", "start", "end"}
    json.dumps(data, ensure_ascii=False)


# --- --lang -----------------------------------------------------------------------------------------------


def test_same_language_needs_no_translator(index):
    summary = summarize(index, None, [DOC], lang="ko", translator=lambda *_: pytest.fail("no translation needed"))
    assert all(s.translation is None for s in summary.sentences)


def test_missing_translator_says_what_to_pin(index, tmp_path, monkeypatch):
    lock = tmp_path / "models.lock"
    lock.write_text(Path(__file__).resolve().parent.parent.joinpath("models.lock").read_text(encoding="utf-8"))
    monkeypatch.setenv("QA_MODELS_LOCK", str(lock))
    with pytest.raises(ModelError) as caught:
        summarize(index, None, [DOC], lang="en")
    message = str(caught.value)
    assert message == missing_translator_message("ko", "en") and "\n" not in message
    for part in ('role = "translator"', 'backend = "transformers-translation"', "hub:Helsinki-NLP/opus-mt-ko-en",
                 "--revision <COMMIT>", "sha256", "models.lock"):
        assert part in message


def test_translations_keep_citations_to_the_originals(index):
    calls = []

    def translator(source, target):
        calls.append((source, target))
        return lambda texts: [f"[{target}] {len(t)} chars" for t in texts]

    summary = summarize(index, None, [DOC], lang="en", translator=translator)
    assert calls == [("ko", "en")]
    _check_citations(index, summary)
    assert all(s.translation == f"[en] {len(s.text)} chars" for s in summary.sentences)
    item = summary.to_json()["summary"][0]
    assert item["translation"].startswith("[en]") and index.articles[item["doc_id"]].text[item["start"] : item["end"]] == item["text"]


def _tiny_marian(folder: Path) -> list[Path]:
    """A random-weight Marian model with a word-level tokenizer: checks the wiring, not the translation."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", "딥시크", "엔비디아", "칩", "the", "chip", "deepseek", "nvidia", "."]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = MarianConfig(
        vocab_size=len(words), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, forced_eos_token_id=1,
    )
    MarianMTModel(config).save_pretrained(folder)
    return sorted(p for p in folder.iterdir() if p.is_file())


def _lock_for(folder: Path, files: list[Path], name: str = "tiny-opus-mt-ko-en") -> str:
    listed = ",\n".join(
        f'  {{ path = "{p.name}", sha256 = "{hashlib.sha256(p.read_bytes()).hexdigest()}" }}' for p in files
    )
    return (
        f'[[model]]\nname = "{name}"\nrole = "translator"\nbackend = "transformers-translation"\n'
        f'source = "hub:qa-tests/tiny-marian-ko-en"\nrevision = "{"0" * 40}"\nlocation = "{folder}"\n'
        f"files = [\n{listed}\n]\n"
    )


@pytest.mark.slow
def test_tiny_marian_translator_from_models_lock(index, tmp_path, monkeypatch):
    pytest.importorskip("transformers", reason="the torch extra (transformers) is not installed")
    folder = tmp_path / "tiny-marian"
    files = _tiny_marian(folder)
    lock = tmp_path / "models.lock"
    lock.write_text(_lock_for(folder, files), encoding="utf-8")
    monkeypatch.setenv("QA_MODELS_LOCK", str(lock))
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))

    summary = summarize(index, None, [DOC], lang="en")
    assert len(summary.sentences) == 3
    _check_citations(index, summary)  # the citation is the Korean original
    assert all(isinstance(s.translation, str) for s in summary.sentences)
    assert all("translation" in item for item in summary.to_json()["summary"])

    (folder / "config.json").write_text("{}", encoding="utf-8")  # tampered: its sha256 no longer matches
    with pytest.raises(ModelError, match="config.json"):
        summarize(index, None, [DOC], lang="en")
