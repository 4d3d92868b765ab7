import numpy as np
import pytest

from qa.index import LexicalIndex, load_index
from qa.retrieve import LEXICAL_WEIGHT, query_terms, retrieve

from conftest import FakeEmbedder

CHUNKS = [
    ["엔비디아", "주가", "급락", "2025", "엔비디아"],
    ["딥시크", "모델", "출시", "r1"],
    ["엔비디아", "h800", "칩", "수출", "규제", "중국"],
    ["오픈", "ai", "투자"],
]


def test_bm25_matches_the_bm25s_reference():
    bm25s = pytest.importorskip("bm25s")
    reference = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    vocab = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in terms] for terms in CHUNKS]
    reference.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    ours = LexicalIndex(CHUNKS)
    for query in (["엔비디아"], ["엔비디아", "칩"], ["딥시크", "r1", "없는말"], ["h800", "h800"]):
        expected = reference.get_scores([vocab[t] for t in query if t in vocab])
        np.testing.assert_allclose(ours.scores(query), expected, rtol=1e-5)


def test_query_terms_use_the_index_vocabulary_without_an_analyser():
    vocabulary = {"엔비디아", "주가", "급락", "딥시크", "학습", "시간", "칩"}
    terms = query_terms("엔비디아의 주가는 딥시크-V3를 학습시키는 데 몇 H800 칩이 필요했나?", vocabulary)
    assert terms == ["v3", "h800", "엔비디아", "주가", "딥시크", "학습", "칩"]
    # A one-syllable term only at a word's start: the particle 이 in 칩이 is not a noun.
    assert query_terms("이 칩이", {"이", "칩"}) == ["이", "칩"]


@pytest.mark.slow
def test_fusion_weights_lexical_evidence_by_language(seeds_index_fake):
    embedder = FakeEmbedder()
    index = load_index(seeds_index_fake, embedder.info)
    korean = retrieve(index, embedder, "스타게이트 프로젝트의 투자 규모는?", k=3)
    assert korean.language == "ko"
    assert korean.passages[0].chunk.doc_id == "004_51241d96c21cc8a8"
    assert "스타게이트" in korean.passages[0].chunk.text
    english = retrieve(index, embedder, "What is the Stargate project's investment size?", k=3)
    assert english.language == "en"
    assert LEXICAL_WEIGHT[False] < LEXICAL_WEIGHT[True]
    scores = [p.score for p in english.passages]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= p.score <= 1.0 for p in korean.passages + english.passages)


@pytest.mark.slow
def test_ties_are_broken_by_chunk_id(seeds_index_fake):
    embedder = FakeEmbedder()
    index = load_index(seeds_index_fake, embedder.info)
    first = [p.chunk.chunk_id for p in retrieve(index, embedder, "AI", k=10).passages]
    second = [p.chunk.chunk_id for p in retrieve(index, embedder, "AI", k=10).passages]
    assert first == second


def test_across_languages_a_chunks_best_sentence_counts():
    from qa.retrieve import Scores, fuse

    # chunk 0: a so-so chunk vector with one sentence matching well; chunk 1: the better chunk vector
    scores = Scores(dense=np.array([0.80, 0.82]), best_sentence=np.array([0.90, 0.82]),
                    lexical=np.zeros(2), same_language=np.array([False, False]))
    chunk_only = fuse(scores, sentence_weight={True: 0.0, False: 0.0})
    mixed = fuse(scores, sentence_weight={True: 0.0, False: 0.35})
    assert chunk_only.argmax() == 1 and mixed.argmax() == 0
    same = Scores(scores.dense, scores.best_sentence, scores.lexical, np.array([True, True]))
    assert fuse(same).argmax() == 1  # within one language the chunk's own vector decides


def test_the_cross_language_bonus_lifts_other_language_chunks_only_in_a_mixed_archive():
    from qa.retrieve import Scores, fuse

    # chunk 0 in the question's language, with the best BM25; chunk 1 in the other, a slightly lower cosine
    mixed = Scores(dense=np.array([0.82, 0.80, 0.70]), best_sentence=np.array([0.82, 0.80, 0.70]),
                   lexical=np.array([1.0, 0.0, 0.2]), same_language=np.array([True, False, True]))
    assert fuse(mixed, cross_language_bonus=0.0).argmax() == 0
    assert fuse(mixed, cross_language_bonus=0.05).argmax() == 1
    # every chunk in the other language: a constant shift, the min-max scaling cancels it
    foreign = Scores(mixed.dense, mixed.best_sentence, mixed.lexical, np.array([False, False, False]))
    assert np.allclose(fuse(foreign, cross_language_bonus=0.0), fuse(foreign, cross_language_bonus=0.05))


@pytest.mark.slow
def test_best_sentence_scores_are_each_chunks_maximum(seeds_index_fake):
    from qa.retrieve import chunk_scores

    embedder = FakeEmbedder()
    index = load_index(seeds_index_fake, embedder.info)
    vector = embedder.embed_queries(["What did Nvidia say?"])[0]
    scores = chunk_scores(index, vector, [], "en")
    sentence = index.sentence_vectors @ vector
    expected = [max(sentence[sid] for sid in chunk.sentence_ids) for chunk in index.chunks]
    np.testing.assert_allclose(scores.best_sentence, expected, rtol=1e-6)
    assert not scores.same_language.any()  # the seeds are Korean


@pytest.mark.slow
def test_an_english_questions_names_lift_the_korean_chunks_writing_them(seeds_index_fake):
    from qa.retrieve import NAME_WEIGHT, chunk_scores, fuse

    embedder = FakeEmbedder()
    index = load_index(seeds_index_fake, embedder.info)
    question = "What AI service will Kakao launch?"
    vector = embedder.embed_queries([question])[0]
    scores = chunk_scores(index, vector, query_terms(question, index.vocabulary), "en", question=question)
    naming = {i for i, chunk in enumerate(index.chunks) if "카카오" in chunk.text}
    assert naming and naming <= set(np.flatnonzero(scores.names).tolist())
    lifted = fuse(scores) - fuse(scores, name_weight=0.0)
    np.testing.assert_allclose(lifted, NAME_WEIGHT * scores.names, rtol=1e-6)
    assert min(lifted[i] for i in naming) > max(lifted[i] for i in range(len(index.chunks)) if i not in naming)
    passages = retrieve(index, embedder, question, k=5).passages
    assert "카카오" in passages[0].chunk.text
    # scores lifted above 1 are scaled back: the best is 1, the rest keep their order and distance below it
    top = float(fuse(scores).max())
    assert top > 1.0 and passages[0].score == 1.0
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True) and passages[-1].score < 1.0
    # Korean questions, and English ones without a name, leave the scores alone
    korean = "카카오는 어떤 서비스를 출시하나?"
    assert chunk_scores(index, vector, query_terms(korean, index.vocabulary), "ko", question=korean).names is None
    plain = chunk_scores(index, vector, [], "en", question="what will the company launch?")
    assert not plain.names.any()
