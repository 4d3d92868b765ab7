import pytest

from qa.chunk import ChunkSettings, EnglishAnalyzer, make_chunks, split_sentences
from qa.ingest import ingest, make_article

from conftest import SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed_sentences(kiwi):
    articles = ingest([str(SEEDS)]).articles
    return articles, {a.doc_id: split_sentences(a, kiwi) for a in articles}


def test_sentence_and_token_offsets_are_exact(seed_sentences):
    articles, sentences = seed_sentences
    for article in articles:
        assert sentences[article.doc_id], article.doc_id
        for sentence in sentences[article.doc_id]:
            assert article.text[sentence.start : sentence.end] == sentence.text
            for token in sentence.tokens:
                assert sentence.start <= token.start <= token.end <= sentence.end  # elided copulas are empty
                # Kiwi normalises some forms (었 from 했, 르 from 를), but digits and Latin are verbatim.
                if token.tag in ("SN", "SL"):
                    assert article.text[token.start : token.end] == token.form


def test_korean_sentences_are_split_inside_a_line(seed_sentences):
    articles, sentences = seed_sentences
    texts = [s.text for s in sentences["001_d802b5947ca02bdd"]]
    assert "1년전 딥시크의 등장에 가장 놀란 곳은 미국이었다." in texts
    assert any(t.startswith("미국 증시 전반이 출렁였고") for t in texts)


def test_chunks_cover_sentences_with_overlap_and_bounded_size(seed_sentences):
    articles, sentences = seed_sentences
    article = articles[0]
    doc_sentences = sentences[article.doc_id]
    settings = ChunkSettings(max_tokens=60, overlap_sentences=1)
    count = lambda text: len(text) // 2  # a stand-in tokenizer, so the bound is checkable here
    chunks = make_chunks(article, doc_sentences, 100, 7, count, settings)
    assert chunks[0].chunk_id == 7 and chunks[0].sentence_ids[0] == 100
    covered = sorted({sid for c in chunks for sid in c.sentence_ids})
    assert covered == list(range(100, 100 + len(doc_sentences)))
    for chunk, following in zip(chunks, chunks[1:]):
        assert article.text[chunk.start : chunk.end] == chunk.text
        # One sentence of overlap, unless a chunk is a single (long) sentence.
        expected = chunk.sentence_ids[-1] + (1 if len(chunk.sentence_ids) == 1 else 0)
        assert following.sentence_ids[0] == expected
        size = sum(count(doc_sentences[s - 100].text) for s in chunk.sentence_ids)
        assert size <= settings.max_tokens or len(chunk.sentence_ids) == 1


def test_english_sentences_respect_abbreviations():
    text = "Chip Rules Headline Here\nDr. Smith said the U.S. lost $5.5 billion. Then he left the room.\n"
    article = make_article("en1", text, "en1.txt")
    sentences = split_sentences(article, EnglishAnalyzer())
    assert [s.text for s in sentences] == ["Chip Rules Headline Here", "Dr. Smith said the U.S. lost $5.5 billion.", "Then he left the room."]
    for s in sentences:
        assert text[s.start : s.end] == s.text
        assert all(text[t.start : t.end] == t.form for t in s.tokens)


def test_chunks_do_not_span_removed_boilerplate(kiwi):
    text = ("기사 제목이 여기에 있습니다\n첫 문장은 본문이다. 둘째 문장도 본문이다.\n"
            "사진 설명이다. ⓒ 뉴스1 홍길동 기자\n셋째 문장은 사진 뒤에 온다. 넷째 문장으로 끝난다.\n")
    article = make_article("gap", text, "gap.txt")
    sentences = split_sentences(article, kiwi)
    chunks = make_chunks(article, sentences, 0, 0, lambda t: 1, ChunkSettings(max_tokens=100))
    assert all("ⓒ" not in c.text for c in chunks)
    assert any("셋째 문장" in c.text for c in chunks) and any("첫 문장" in c.text for c in chunks)
