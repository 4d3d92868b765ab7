"""The romanized-name bridge: keys, the names of a question and of a Korean sentence, and their matching."""
import pytest

from qa.chunk import Sentence, Token
from qa.names import NameIndex, loose_key, person_name_romanized, question_names, romanizations, sentence_names


def _sentence(text, words, doc_id="d"):
    tokens, at = [], 0
    for form, tag in words:
        at = text.index(form, at)
        tokens.append(Token(form, tag, at, at + len(form)))
        at += len(form)
    return Sentence(doc_id, 0, len(text), text, "body", tokens)


@pytest.mark.parametrize("english, hangul, person", [
    ("Seo Jin-wook", "서진욱", True),
    ("Park Min-jun", "박민준", True),
    ("Kakao", "카카오", False),
    ("Cheongna", "청라", False),
    ("Hanbit", "한빛", False),
])
def test_english_spellings_and_hangul_names_meet_on_one_key(english, hangul, person):
    assert loose_key(english) in romanizations(hangul, person)


def test_a_persons_surname_alone_is_a_key_matched_only_whole():
    keys = romanizations("이서연", person=True)
    assert "#li" in keys and "#lhi" in keys  # 'Lee', 'Rhee'
    assert not any(k.startswith("#") for k in romanizations("이서연", person=False))


def test_question_names_are_capitalized_words_and_their_runs():
    names = question_names("Why did Haesol City and Park Min-jun's firm sign in March, according to the report?")
    assert {"Haesol", "City", "Haesol City", "Park", "Min-jun", "Park Min-jun"} <= set(names)
    assert not {"Why", "March", "according"} & set(names)


def test_sentence_names_are_proper_nouns_and_one_word_noun_runs():
    sentence = _sentence("한빛종합건설 박민준 대표가 해솔시를 찾았다", [
        ("한빛", "NNP"), ("종합", "NNG"), ("건설", "NNG"), ("박민준", "NNP"), ("대표", "NNG"), ("가", "JKS"),
        ("해솔시", "NNP"), ("를", "JKO"), ("찾", "VV"), ("았", "EP"), ("다", "EF")])
    names = sentence_names(sentence)
    assert ("한빛종합건설", False) in names and ("박민준", True) in names and ("해솔시", False) in names
    assert ("한빛", True) in names  # 2-4 syllables opening with a surname: keys as a person's name too
    assert not any(name == "대표" for name, _ in names)  # a common noun alone is no name


def test_the_name_index_scores_the_chunks_writing_the_questions_names():
    chunks = [
        [_sentence("해솔시는 투자 보조금을 준다", [("해솔시", "NNP"), ("는", "JX"), ("투자", "NNG"), ("보조금", "NNG")])],
        [_sentence("청라 공장이 문을 열었다", [("청라", "NNP"), ("공장", "NNG"), ("이", "JKS"), ("문", "NNG")])],
        [_sentence("회사는 배터리를 만든다", [("회사", "NNG"), ("는", "JX"), ("배터리", "NNG")])],
    ]
    names = NameIndex(["a", "b", "b"], chunks)
    scores = names.scores("How large is the subsidy Haesol gives?", document_weight=0.0)
    assert set(scores) == {0} and scores[0] > 0
    # the article's other chunks get the document share: chunk 2 never names Cheongna, its article does
    scores = names.scores("When did the Cheongna plant open?", document_weight=0.5)
    assert scores[1] > scores[2] > 0 and 0 not in scores
    assert names.scores("What did the Mayor say?", document_weight=0.5) == {}


@pytest.mark.parametrize("hangul, english", [
    ("서진욱", "Seo Jin-uk"),  # the given name in Revised Romanization, its final ㄱ written 'k'
    ("김민수", "Kim Min-su"),  # the surname as English writes it, not RR's 'Gim'
    ("이재용", "Lee Jae-yong"),
    ("박창훈", "Park Chang-hun"),
    ("곽빛나", "Kwak Bit-na"),  # no sound change across the hyphen; final ㅊ written 't'
    ("황", None),  # a surname alone is no name
    ("존 물레나", None),  # a foreign name written in Hangul
    ("엔비디아", None),  # does not open with a common surname
])
def test_a_korean_persons_name_is_romanized_as_english_writes_it(hangul, english):
    assert person_name_romanized(hangul) == english
