"""Romanized names: the bridge from an English question's names to the Korean chunks that write them in Hangul.

Across scripts BM25 matches nothing and e5 matches invented or rare Korean names poorly ('Haesol City' and
'해솔시'). Korean proper nouns of the index (Kiwi's NNP, and noun runs within one word: '한빛종합건설') are
romanized syllable by syllable (Revised Romanization, by anyascii) and the English question's capitalized
names are folded to the same loose key: the spelling differences between RR and the spellings English
news uses ('Jin-wook' / 'jinug', 'Kakao' / 'kakao', 'Cheongna' / 'cheongla') are mostly vowel digraphs,
voicing and r/l, which the key erases. A person's name also gets the conventional spelling of its surname
('Lee', 'Park'). Matching allows a shared prefix of 4+ letters or close bigrams, so a name written
with or without its suffix ('Haesol' / '해솔시') still meets.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from typing import Iterable

from .chunk import Sentence

_HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]+$")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-.]*")
_NAME_TAGS = ("NNP", "NNG")
_T_FINALS = frozenset("\u11ba\u11bb\u11bd\u11be\u11c0\u11c2")  # final ㅅ ㅆ ㅈ ㅊ ㅌ ㅎ

# Conventional spellings of common surnames, besides the RR one (a key alone, '#kim', is matched exactly).
SURNAMES = {
    "김": ["kim"], "이": ["lee", "yi", "rhee"], "박": ["park"], "최": ["choi"], "정": ["jung", "chung"],
    "강": ["kang"], "조": ["cho"], "윤": ["yoon"], "장": ["jang", "chang"], "임": ["lim"], "한": ["han"],
    "오": ["oh"], "서": ["seo", "suh"], "신": ["shin"], "권": ["kwon"], "황": ["hwang"], "안": ["ahn"],
    "송": ["song"], "류": ["ryu", "yoo"], "유": ["yoo", "yu"], "전": ["jeon", "chun"], "홍": ["hong"],
    "고": ["ko"], "문": ["moon"], "양": ["yang"], "손": ["son"], "배": ["bae"], "백": ["baek"], "허": ["heo"],
    "남": ["nam"], "노": ["noh", "roh"], "하": ["ha"], "곽": ["kwak"], "성": ["sung"], "차": ["cha"],
    "주": ["joo"], "우": ["woo"], "구": ["koo"], "민": ["min"], "나": ["na"], "진": ["jin"], "지": ["ji"],
    "엄": ["um"], "채": ["chae"], "원": ["won"], "천": ["chun"], "방": ["bang"], "공": ["kong"],
    "현": ["hyun"], "함": ["ham"], "변": ["byun"], "염": ["yeom"], "여": ["yeo"], "추": ["choo"],
    "도": ["do"], "석": ["seok"], "선": ["sun"], "설": ["seol"], "마": ["ma"], "길": ["gil"], "연": ["yeon"],
    "표": ["pyo"], "명": ["myung"], "기": ["ki"], "반": ["ban"], "왕": ["wang"], "금": ["keum"],
    "옥": ["ok"], "육": ["yuk"], "맹": ["maeng"], "탁": ["tak"], "국": ["kook"], "은": ["eun"],
    "용": ["yong"], "경": ["kyung"], "봉": ["bong"], "태": ["tae"], "형": ["hyung"], "두": ["doo"],
}

# Words an English question capitalizes that name nothing in a Korean article.
_NOT_NAMES = frozenset("""how what which who whom whose when where why in at on the a an by for of to from is are was
were did does do has have had us u.s korea korean koreans south north seoul english i ii iii january february
march april may june july august september october november december monday tuesday wednesday thursday
friday saturday sunday according after before during as if""".split())

# Folding of spelling variants, applied in order: vowel digraphs, voicing, r/l, 'sh'.
_FOLDS = (("eo", "u"), ("oo", "u"), ("ee", "i"), ("ou", "u"), ("sh", "s"), ("k", "g"), ("p", "b"), ("t", "d"),
          ("r", "l"), ("wo", "o"), ("wu", "u"))
# Sound changes across syllables that syllable-by-syllable romanization does not make ('청라' is 'Cheongna').
_SOUND_CHANGES = tuple((re.compile(pattern), replacement) for pattern, replacement in (
    (r"(ng|m)l", r"\1n"), (r"nl|ln", "l"), (r"g(?=[nm])", "ng"), (r"b(?=[nm])", "m")))
_DOUBLED = re.compile(r"(.)\1+")
_NOT_LETTERS = re.compile(r"[^a-z]")
PREFIX_MIN = 4  # letters a shorter key must share with a longer one's start
DICE_MIN = 0.7  # bigram overlap of two keys of similar length


def loose_key(latin: str) -> str:
    """The key both sides of a match are folded to ('Seo Jin-wook' and '서진욱' -> 'sujinug')."""
    key = _NOT_LETTERS.sub("", latin.lower())
    for spelled, folded in _FOLDS:
        key = key.replace(spelled, folded)
    for pattern, replacement in _SOUND_CHANGES:
        key = pattern.sub(replacement, key)
    return _DOUBLED.sub(r"\1", key)


def revised_romanization(hangul: str) -> str:
    """Revised Romanization syllable by syllable: anyascii's, with the finals RR writes 't' ('빛' -> 'bit';
    anyascii spells every final as the initial it would be: 'bich')."""
    from anyascii import anyascii

    letters = []
    for syllable in hangul:
        jamo = unicodedata.normalize("NFD", syllable)
        if len(jamo) == 3 and jamo[2] in _T_FINALS:
            letters.append(anyascii(unicodedata.normalize("NFC", jamo[:2])) + "t")
        else:
            letters.append(anyascii(syllable))
    return "".join(letters)


# How RR writes a final consonant at the end of a syllable, as it is pronounced there (the index's loose keys
# fold these voicing differences away, so revised_romanization keeps anyascii's letters).
_RR_FINALS = dict(zip("ᆨᆩᆪᆫᆬᆭᆮᆯᆰᆱᆲᆳᆴᆵᆶᆷᆸᆹᆺᆻᆼᆽᆾᆿᇀᇁᇂ",
                      "k k k n n n t l k m l l l p l m p p t t ng t t k t p t".split()))


def person_name_romanized(name: str) -> str | None:
    """A Korean person's name as English text writes it ('서진욱' -> 'Seo Jin-uk', '김민수' -> 'Kim Min-su'):
    the surname's usual spelling, the given name in Revised Romanization with its syllables joined by a
    hyphen and no sound change between them (RR's rule for names). None unless ``name`` is 2-4 Hangul
    syllables opening with a common surname (SURNAMES)."""
    from anyascii import anyascii

    if not (2 <= len(name) <= 4 and _HANGUL_WORD.match(name) and name[0] in SURNAMES):
        return None
    syllables = []
    for syllable in name[1:]:
        jamo = unicodedata.normalize("NFD", syllable)
        final = _RR_FINALS[jamo[2]] if len(jamo) == 3 else ""
        syllables.append(anyascii(unicodedata.normalize("NFC", jamo[:2])).lower() + final)
    return f"{SURNAMES[name[0]][0].capitalize()} {'-'.join(syllables).capitalize()}"


def romanizations(name: str, person: bool) -> set[str]:
    """Loose keys of a Hangul name; for a person, also with the surname's conventional spellings and the
    surname alone ('#'-marked: matched only exactly, as 'Yoon' after a first full mention)."""
    keys = {loose_key(revised_romanization(name))}
    if person:
        given = revised_romanization(name[1:])
        for surname in [revised_romanization(name[0]), *SURNAMES.get(name[0], [])]:
            keys.add(loose_key(surname + given))
            keys.add("#" + loose_key(surname))
    return keys


def sentence_names(sentence: Sentence) -> list[tuple[str, bool]]:
    """(Hangul name, person-like) of a Korean sentence: its NNP tokens of 2+ syllables and runs of 2+ nouns
    written as one word. A person-like name is 2-4 syllables opening with a common surname."""
    tokens, names, k = sentence.tokens, [], 0
    while k < len(tokens):
        if tokens[k].tag not in _NAME_TAGS:
            k += 1
            continue
        last = k
        while last + 1 < len(tokens) and tokens[last + 1].tag in _NAME_TAGS and tokens[last + 1].start == tokens[last].end:
            last += 1
        for token in tokens[k : last + 1]:
            if token.tag == "NNP" and len(token.form) >= 2 and _HANGUL_WORD.match(token.form):
                names.append((token.form, len(token.form) <= 4 and token.form[0] in SURNAMES))
        if last > k:
            word = sentence.text[tokens[k].start - sentence.start : tokens[last].end - sentence.start]
            if _HANGUL_WORD.match(word):
                names.append((word, False))
        k = last + 1
    return names


def question_names(question: str) -> list[str]:
    """The English question's capitalized words and every run of consecutive ones ('Haesol City', 'Haesol',
    'City'), minus words that name nothing in a Korean article."""
    runs, run, last_end = [], [], -1
    for match in _LATIN_WORD.finditer(question):
        word = re.sub(r"['’]s$", "", match.group()).strip(".-'’")
        capitalized = word[:1].isupper() and word.lower() not in _NOT_NAMES
        if capitalized and (not run or not question[last_end : match.start()].strip()):
            run.append(word)
        else:
            if run:
                runs.append(run)
            run = [word] if capitalized else []
        last_end = match.end()
    if run:
        runs.append(run)
    names = [" ".join(run[i:j]) for run in runs for i in range(len(run)) for j in range(i + 1, len(run) + 1)]
    return list(dict.fromkeys(names))


def _bigrams(key: str) -> set[str]:
    return {key[i : i + 2] for i in range(len(key) - 1)}


class NameIndex:
    """Loose keys of the Korean names in each chunk, built from the index's stored tokens."""

    def __init__(self, chunk_docs: list[str], chunk_sentences: Iterable[Iterable[Sentence]]):
        self.chunk_docs = chunk_docs
        self.documents = len(set(chunk_docs))
        self.key_chunks: dict[str, set[int]] = defaultdict(set)
        romanized: dict[tuple[str, bool], set[str]] = {}
        for chunk, sentences in enumerate(chunk_sentences):
            for sentence in sentences:
                for name in sentence_names(sentence):
                    if name not in romanized:
                        romanized[name] = romanizations(*name)
                    for key in romanized[name]:
                        if len(key.lstrip("#")) >= 2:
                            self.key_chunks[key].add(chunk)
        self.keys = [(key, _bigrams(key)) for key in self.key_chunks if not key.startswith("#")]
        self.keys_with: dict[str, list[int]] = defaultdict(list)  # bigram -> keys holding it
        self.keys_opening: dict[str, list[str]] = defaultdict(list)  # first PREFIX_MIN letters -> keys
        for number, (key, bigrams) in enumerate(self.keys):
            for bigram in bigrams:
                self.keys_with[bigram].append(number)
            if len(key) >= PREFIX_MIN:
                self.keys_opening[key[:PREFIX_MIN]].append(key)

    def matching_keys(self, key: str) -> list[str]:
        """Index keys ``key`` meets: equal, one a 4+ letter prefix of the other (both open alike), or close
        bigrams (a Dice of at least DICE_MIN needs DICE_MIN / (2 - DICE_MIN) of ``key``'s bigrams shared)."""
        found = [k for k in ("#" + key, key) if k in self.key_chunks]
        if len(key) >= PREFIX_MIN:
            found += [k for k in self.keys_opening.get(key[:PREFIX_MIN], ())
                      if k != key and (k.startswith(key) or key.startswith(k))]
        wanted = _bigrams(key)
        if len(key) < 4 or not wanted:
            return found
        needed = math.ceil(DICE_MIN / (2 - DICE_MIN) * len(wanted))
        shared = Counter(n for bigram in wanted for n in self.keys_with.get(bigram, ()))
        for number in sorted(n for n, count in shared.items() if count >= needed):
            known, bigrams = self.keys[number]
            shorter, longer = sorted((known, key), key=len)
            if known in found or len(shorter) < 4 or len(shorter) < 0.75 * len(longer):
                continue
            if 2 * len(wanted & bigrams) / (len(wanted) + len(bigrams)) >= DICE_MIN:
                found.append(known)
        return found

    def scores(self, question: str, document_weight: float) -> dict[int, float]:
        """Per chunk, the sum over the question's names it holds of their rarity among chunks (log N/n over
        log N, in (0, 1]), plus ``document_weight`` times that sum over the chunk's whole article (rarity
        among articles): a name the question and an article share points at the article even where a chunk
        refers to it as 'the company'. Chunks without any: absent."""
        chunk_score: dict[int, float] = defaultdict(float)
        document_score: dict[str, float] = defaultdict(float)
        total = len(self.chunk_docs)
        for name in question_names(question):
            key = loose_key(name)
            if len(key) < 3:
                continue
            chunks = set().union(*(self.key_chunks[k] for k in self.matching_keys(key)))
            if not chunks:
                continue
            for chunk in chunks:
                chunk_score[chunk] += math.log(total / len(chunks)) / math.log(total) if total > 1 else 1.0
            documents = {self.chunk_docs[c] for c in chunks}
            rarity = math.log(self.documents / len(documents)) / math.log(self.documents) if self.documents > 1 else 1.0
            for document in documents:
                document_score[document] += rarity
        if document_weight and document_score:
            for chunk, document in enumerate(self.chunk_docs):
                if document in document_score:
                    chunk_score[chunk] += document_weight * document_score[document]
        return dict(chunk_score)
