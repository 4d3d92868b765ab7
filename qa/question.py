"""Question analysis without a morphological analyser.

``qa ask`` must start in well under a second, so the question is never given to Kiwi (seconds and
500 MB to load). Korean questions are split into eojeols and their particles and endings are stripped
by rule; the stems are then matched by prefix against the passages' stored Kiwi tokens (see answer.py),
which tolerates the occasional over- or under-stripped stem.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace, field

from .ingest import detect_language

ANSWER_TYPES = ("number", "date", "person", "organization", "place", "thing", "other")


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    lang: str  # "ko" or "en"
    answer_type: str  # one of ANSWER_TYPES
    unit_hint: str | None  # canonical unit the answer should carry: '%', '달러', '원', '시간', '명', '개', ...
    terms: tuple[str, ...]  # content words to match: particle-stripped eojeols / lowercased English words
    wh_span: tuple[int, int] | None  # [start, end) of the question word in ``text``, if any
    head_noun: str | None = None  # the noun the question asks for: '회사' in '어느 회사', 'company'
    wants_list: bool = False  # the question asks for several items ('네 곳은?', 'which companies')
    list_size: int | None = None  # how many, when the question names the number it asks for ('기업 네 곳은?': 4)
    plural_asked: bool = False  # Korean: the noun asked for is plural ('어떤 기업들이', '회사들은 어디인가')
    term_spans: tuple[tuple[int, int], ...] = field(default=(), repr=False)  # [start, end) of each term
    years: tuple[str, ...] = ()  # years the question names ('2023년', 'in 2023'): an answer's article must state them

    @property
    def asks_for_list(self) -> bool:
        """Several items, surely: a number of them named, an English plural head ('which customers') or a
        Korean plural on the noun asked for ('어떤 기업들이'). The Korean markers behind ``wants_list``
        ('모두', any '-들은': '수험생들은 언제…') fire on too many single-answer questions."""
        return bool(self.list_size) or (self.wants_list and self.lang == "en") or self.plural_asked

    @property
    def wh_word(self) -> str | None:
        return self.text[self.wh_span[0] : self.wh_span[1]] if self.wh_span else None

    @property
    def asks_how_much(self) -> bool:
        """The question surely asks for a quantity: its question word does ('몇', '얼마', '어느 정도', 'how
        many/much') or it asks for money ('매출은?', 'the agency's sales'), not only a head noun that often
        names one ('투수' ends like '수', '법률' like '률')."""
        word = (self.wh_word or "").lower()
        return self.answer_type == "number" and (
            word.startswith(("몇", "얼마", "어느", "how many", "how much")) or self.unit_hint == CURRENCY)


# --- units ---------------------------------------------------------------------------------------------

# Canonical unit -> surface forms in either language; lets an English question's "dollars" agree with a
# Korean passage's "달러" and the reverse.
UNIT_FORMS: dict[str, tuple[str, ...]] = {
    "%": ("%", "퍼센트", "프로", "percent", "percentage", "pct", "%p", "퍼센트포인트", "포인트"),
    "달러": ("달러", "$", "dollar", "dollars", "usd", "불"),
    "원": ("원", "₩", "won", "krw"),
    "엔": ("엔", "yen", "¥"),
    "유로": ("유로", "euro", "euros", "€"),
    "위안": ("위안", "yuan", "rmb"),
    "시간": ("시간", "hour", "hours", "gpu-hours", "hrs"),
    "주": ("주", "주일", "week", "weeks"),  # also shares ('100만 주'): neither is a share, a sum nor people
    "주년": ("주년", "anniversary"),
    "분": ("분", "minute", "minutes"),
    "초": ("초", "second", "seconds"),
    "명": (
        "명", "people", "persons", "person", "employees", "workers", "users", "인원", "officers", "soldiers",
        "students", "players", "members", "passengers", "victims", "residents", "staff", "troops", "guards",
        "crew", "children", "delegates", "lawmakers", "voters", "visitors", "fans", "participants", "athletes",
    ),
    "개": ("개", "개사", "units", "pieces", "items"),
    "배": ("배", "times", "fold", "-fold"),
    "년": ("년", "년간", "years", "year"),
    "개월": ("개월", "months", "month"),
    "일": ("일", "days", "day"),
    "세": ("세", "살", "years old", "age", "aged"),
    "위": ("위", "rank", "place", "th"),
    "곳": ("곳", "places", "sites"),
    "층": ("층", "floors", "floor", "stories", "storeys"),
    "분의": ("분의",),  # '20분의 1': a fraction
    "건": ("건", "transactions", "deals", "incidents", "complaints"),  # 'cases' of an illness are people (명)
    "경기": ("경기", "games", "matches"),
    "가구": ("가구", "세대", "households"),
    "석": ("석", "seats"),
    "대": ("대", "vehicles", "cars", "units"),
    "번": ("번", "차례", "회", "times"),
    "km": ("km", "킬로미터", "kilometers", "kilometres"),
    "m": ("m", "미터", "meters", "metres"),
    "kg": ("kg", "킬로그램", "kilograms"),
    "톤": ("톤", "ton", "tons", "tonnes"),
    "bit": ("비트", "bit", "bits"),
    "파라미터": ("파라미터", "매개변수", "parameters", "params"),
}
_UNIT_OF_FORM = {form: unit for unit, forms in UNIT_FORMS.items() for form in forms}

# A unit hint that any currency satisfies: the question asks for money without naming the currency.
CURRENCY = "currency"
CURRENCY_UNITS = frozenset({"달러", "원", "엔", "유로", "위안"})
_MONEY_WORDS = frozenset(
    "money cost costs costed spend spent spending invest invested investment investments budget revenue "
    "revenues loss losses lose lost price paid pay sales profit profits worth damage damages fund funding "
    "bonus prize subsidy subsidies wage wages salary compensation reward loan loans debt tax taxes fee fees fare "
    "fares tuition rent".split()
)
_EN_PHRASE_ENDS = frozenset("of in on at for to from by with that which who during since after before as so than "
                             "among between across per over under about into through like including if when where "
                             "this these last next does did do has have had will would can could".split())
_EN_SHARE_HEADS = frozenset({"percentage", "percent", "share", "rate", "proportion", "fraction", "ratio"})
_EN_SHARE_WORDS = _EN_SHARE_HEADS | {"growth", "margin"}
_EN_MONEY_HEADS = frozenset({"price", "cost", "budget", "revenue", "sales", "valuation", "fee", "salary"})
_KO_MONEY_HEADS = ("금액", "액수", "비용", "돈", "투자액", "투자 규모", "예산", "매출", "가격", "손실", "피해액", "지출")


# A unit hint for a share of something the question names ('투자한 금액의 어느 정도인가', '추징금 중 얼마를'):
# a percentage, a multiple or a fraction answers it, not the named amount's own unit.
RELATIVE = "relative"
RELATIVE_UNITS = frozenset({"%", "배", "분의"})

# A unit hint that any unit of time satisfies: 'how long did it take' asks for hours or days, not km.
DURATION = "duration"
DURATION_UNITS = frozenset({"시간", "분", "초", "일", "주", "개월", "년"})
_DURATION_VERBS = frozenset("take takes took taken last lasts lasted wait waited waiting stay stayed spend spent "
                            "shut closed suspended delayed halted serve served keep keeps kept continue continues "
                            "continued remain remains remained sleep sleeps slept".split())


def canonical_unit(form: str) -> str | None:
    return _UNIT_OF_FORM.get(form.lower())


def unit_satisfies(hint: str, unit: str | None) -> bool:
    """Whether a span's canonical ``unit`` is what a question's ``unit_hint`` asks for."""
    if hint == RELATIVE:
        return unit in RELATIVE_UNITS
    if hint == "%" and unit == "분의":
        return True  # a share may be given as a fraction
    return unit == hint or (hint == CURRENCY and unit in CURRENCY_UNITS) or (hint == DURATION and unit in DURATION_UNITS)


# --- Korean --------------------------------------------------------------------------------------------

# Longest first. Verbal endings reduce '주도한' to '주도', '지명수배된' to '지명수배': the stem is what a
# passage's nouns start with.
_KO_ENDINGS = sorted(
    """
    이었는가 였는가 이었나 였나 이었던 였던 이었을까 인가요 인가 인지 인데 이라고 라고 이라는 라는 이라며 라며
    이란 란 이며 이고 이나 이다 입니까 일까 이었다 였다
    하였는가 했는가 하였나 했나 하는가 하나요 하나 하였던 했던 하던 하는 하고 하여 해서 하며 하면 할 한 함 했다 하였다
    되었는가 됐는가 되었나 됐나 되는가 되었던 됐던 되던 되는 되어 돼 되고 된 될 됨 되었다 됐다
    시켰나 시킨 시키는 받았나 받은 받는 당한 당했나
    이었 였 았나 었나 았는가 었는가 는가 는지 는데 ㄴ가 나요 나
    에게서 에서는 에서도 에서의 에서 에게는 에게 한테 께서 께 으로부터 로부터 으로서 로서 으로써 로써 으로는 로는
    으로의 로의 으로 로 부터 까지 마다 보다 처럼 만큼 이나 나 와의 과의 와는 과는 에는 에도 에의 의 에
    은 는 이 가 을 를 와 과 도 만 들 등 및
    """.split(),
    key=len,
    reverse=True,
)
# Most endings strip only from stems of two or more syllables ('나라는' must not become '나'); these
# particles never end a noun, so '날은' may become '날'.
_MIN_STEM = 2
_SAFE_ENDINGS = frozenset("은 는 을 를 에 에서 에게 으로 과 와 의 에는 에서는 으로는 에서의".split())

_KO_STOP = frozenset(
    "무엇 뭐 무슨 어떤 어느 누구 누가 언제 어디 어딘 얼마 얼마나 몇 왜 어떻게 어떠한 것 수 때 등 및 그 이 저 해당 "
    "있 없 하 되 이름 경우 당시 통해 위해 대해 대한 관련 가장 동안 내 중 후 전".split()
)

# Head nouns (the thing a question asks for) by answer type; matched as the suffix of the last noun, so
# '입사시기' finds '시기' and '물가상승률' finds '률'.
_KO_HEADS: dict[str, tuple[str, ...]] = {
    "date": (
        "날짜", "날", "연도", "년도", "해", "시기", "시점", "때", "일자", "시각", "생년월일", "생일", "요일",
        "세기", "연대", "년", "월", "일시", "출시일", "기념일", "발표일", "마감일",
    ),
    "person": (
        "사람", "인물", "선수", "감독", "작가", "대통령", "왕", "의원", "교수", "회장", "장관", "대표", "배우",
        "가수", "화가", "학자", "주인공", "장군", "황제", "총리", "총장", "사무총장", "저자", "작곡가", "지휘자",
        "창시자", "설립자", "창업자", "창립자", "발명가", "후계자", "기자", "검사", "판사", "변호사", "의사",
        "코치", "멤버", "CEO", "최고경영자", "연구원", "애널리스트", "분석가", "위원장", "총재", "국왕", "여왕",
        "부인", "아내", "남편", "아버지", "어머니", "아들", "딸", "형", "동생", "제자", "스승", "상대", "인사",
        "후보", "당선자", "수상자", "우승자", "범인", "피의자", "용의자", "임원", "사장", "이사", "부사장",
        "책임자", "지도자", "실장", "단장", "국장", "부장", "청장", "시장", "지사", "박사", "목사", "신부",
    ),
    "organization": (
        "회사", "기업", "업체", "단체", "기관", "기구", "협회", "정당", "팀", "구단", "학교", "대학", "대학교",
        "은행", "방송사", "언론사", "신문사", "부처", "조직", "그룹", "연구소", "위원회", "제조사", "출판사",
        "밴드", "클럽", "부대", "군단", "연맹", "재단", "법인", "스타트업", "빅테크", "매체", "언론", "통신사",
        "정부", "부서", "계열사", "자회사", "거래소", "학회", "노조", "기획사", "레이블", "개발사", "공급사",
    ),
    "place": (
        "곳", "장소", "지역", "나라", "국가", "도시", "지방", "위치", "섬", "산", "강", "지점", "국적", "고향",
        "출생지", "수도", "대륙", "항구", "마을", "동네", "건물", "주", "도", "시", "국", "행선지", "목적지",
        "출신지", "지명", "해역", "공항", "역", "거리", "구역", "경기장",
    ),
    "number": (
        "수", "숫자", "개수", "갯수", "인원", "비율", "비중", "금액", "액수", "비용", "가격", "규모", "점유율",
        "률", "율", "횟수", "나이", "점수", "순위", "랭킹", "득점", "길이", "높이", "무게", "면적", "인구",
        "매출", "액", "값", "수치", "배율", "기간", "시간", "크기", "용량", "속도", "온도", "부채", "이익",
        "손실", "예산", "투자액", "시가총액", "몸값", "연봉", "임금", "세율", "확률", "득표율", "지지율",
        "관객", "관객수", "매출액", "영업이익", "순이익", "성장률", "상승률", "하락폭", "차이", "격차", "배",
        "정도", "수준", "분량", "배수", "형량", "징역", "징역형", "해상도", "고도", "밀도", "농도", "습도", "강도",
        "빈도", "각도", "난이도", "선호도", "인지도", "만족도", "지지도",
    ),
    "thing": (
        "이름", "명칭", "제목", "것", "작품", "책", "영화", "앨범", "노래", "곡", "제품", "모델", "칩", "서비스",
        "기술", "단어", "말", "용어", "직책", "직위", "직업", "상", "종목", "언어", "별명", "칭호", "작전",
        "사건", "전쟁", "법", "법안", "제도", "정책", "프로그램", "게임", "소설", "시리즈", "브랜드", "장비",
        "무기", "기물", "아이템", "방식", "원리", "개념", "이론", "물질", "성분", "약", "질병", "병", "음식",
        "동물", "식물", "종", "품종", "역할", "지위", "계급", "작위", "학위", "전공", "분야", "과목", "악기",
        "프로세서", "반도체", "플랫폼", "앱", "소프트웨어", "운영체제", "규제", "조치", "협정", "조약", "보고서",
        "논문", "잡지", "신문", "드라마", "방송", "프로", "캐릭터", "포켓몬", "명장면", "장면", "대회", "리그",
        "철학", "사상", "종교", "계산법", "방법", "수단", "도구", "재료", "원료", "색", "색깔", "문자", "기호",
        "혐의", "죄", "죄명", "병명", "원인", "이유", "목적", "결과", "내용", "의미", "뜻", "특징", "주제",
    ),
}
_KO_HEAD_LOOKUP = sorted(
    ((noun, kind) for kind, nouns in _KO_HEADS.items() for noun in nouns), key=lambda pair: -len(pair[0])
)
# Of the 'thing' heads, those whose answers are explanations rather than names.
_KO_OTHER_HEADS = frozenset("원인 이유 목적 결과 내용 의미 뜻 특징 방법 원리 방식 역할".split())

# Counters after 몇 that make the answer a date rather than a quantity ('몇 년에' vs '몇 년 동안').
_KO_DATE_COUNTERS = ("년도", "년", "월", "일", "시", "세기", "요일")
_KO_DURATION_AFTER = ("동안", "간", "만에", "만", "째", "이나", "씩", "이상", "가량")

_EOJEOL = re.compile(r"[^\s?？!.,·、「」『』《》〈〉\"“”‘’'()\[\]]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LATIN_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9\-]*")
_KO_NUMBER_WORDS = {"두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10}
# The counted phrase closing the question ('GPU 기업 네 곳은?', '주연 두명은 누구인가?'): the answer is that
# many items. A count earlier in the question only qualifies something ('두 가지 전통을 지닌 것은?').
_KO_LIST_REQUEST = re.compile(
    r"(?<![가-힣\d])(두|세|네|다섯|여섯|일곱|여덟|아홉|열|[2-9])\s*"
    r"(?:곳|군데|개|명|가지|개사|나라|개국|사람|종류|팀|기업|회사|국가|도시|인물|단체|제품|작품|편|권)"
    r"(?:은|는|을|를|이|가)?\s*(?:누구누구|누구|무엇|어디|뭐)?"
    r"(?:인가요|인가|인지|일까|입니까|이었나|였나|이었는가|였는가|예요|이에요|이야|야)?\s*[?？]?\s*$"
)
# The plural marker on the noun a question asks for: after '어떤/어느/무슨' ('어떤 (국내) 기업들이') or right
# before the question word ('회사들은 어디인가', '작품들은 무엇인가').
_KO_PLURAL_ASKED = re.compile(r"(?:어떤|어느|무슨)\s+(?:[가-힣A-Za-z]+\s+)?[가-힣A-Za-z]+들"
                              r"|들(?:은|는|이|가)?\s*(?:어디|누구|무엇|뭐)(?:인가|인지|였나|이었나|일까|냐|야|\s*\?|$)")
_LIST_MARKERS = re.compile(r"(?:두|세|네|다섯|여섯|일곱|여덟|아홉|열|\d+)\s*(?:곳|개|명|가지|개사|나라|사람|종류)|모두|각각|들은|들이|들을")


def strip_particles(eojeol: str) -> str:
    """The stem of a Korean eojeol: its longest trailing particle or ending removed ('회사에서는' → '회사').

    One pass only: stripping again eats stems ('혐의로' → '혐의' → '혐'); stacked particles such as
    '에서는' are listed whole instead.
    """
    for ending in _KO_ENDINGS:
        if eojeol.endswith(ending) and len(eojeol) - len(ending) >= (1 if ending in _SAFE_ENDINGS else _MIN_STEM):
            return eojeol[: -len(ending)]
    return eojeol


def _head_kind(noun: str) -> tuple[str | None, str | None]:
    """(answer type, matched head) for a noun by its longest known head suffix."""
    for head, kind in _KO_HEAD_LOOKUP:
        if noun.endswith(head) and (len(head) >= 2 or noun == head or len(noun) <= 3):
            if kind == "thing" and head in _KO_OTHER_HEADS:
                return "other", head
            return kind, head
    return None, None


def _analyze_korean(text: str) -> QuestionAnalysis:
    eojeols = [(m.group(), m.start(), m.end()) for m in _EOJEOL.finditer(text)]
    stems = [strip_particles(e) for e, _, _ in eojeols]
    answer_type, unit_hint, wh_span, head = None, None, None, None

    for i, (word, start, end) in enumerate(eojeols):
        nxt = stems[i + 1] if i + 1 < len(stems) else ""
        nxt_raw = eojeols[i + 1][0] if i + 1 < len(eojeols) else ""
        if word.startswith(("누구", "누가")):
            answer_type, wh_span = "person", (start, start + 2)
        elif word.startswith(("언제", "며칠")) and not word.startswith(("언제나", "언제든")):  # '언제나': always
            answer_type, wh_span = "date", (start, start + 2)
        elif word.startswith("몇") and not _several_before_a_question_word(word[1:] or nxt_raw, eojeols[i + 1 :]):
            # '몇 년에' / '몇년도' is a date; '몇 년 동안', '몇 명', '몇 %' are quantities.
            counter = word[1:] or nxt_raw
            counter_stem = strip_particles(counter) if counter else ""
            after = eojeols[i + (1 if word[1:] else 2)][0] if i + (1 if word[1:] else 2) < len(eojeols) else ""
            is_date = counter_stem.startswith(_KO_DATE_COUNTERS) and not counter_stem.startswith(("시간", "일간", "년간")) and not (
                counter.startswith(_KO_DATE_COUNTERS) and counter.removeprefix("년").startswith(_KO_DURATION_AFTER)
                or after.startswith(_KO_DURATION_AFTER)
                or counter_stem in ("년간", "개월", "일간")
            )
            answer_type = "date" if is_date else "number"
            wh_span = (start, end if word[1:] else (eojeols[i + 1][2] if i + 1 < len(eojeols) else end))
            # '몇 분의 1': a fraction, not minutes ('의' is no particle there; '몇 분의 시간' is minutes)
            fraction = counter.startswith("분의") and (counter[2:] or after)[:1] in tuple("0123456789몇일한")
            unit_hint = None if is_date else _unit_of_counter("분의" if fraction else counter_stem)
        elif word.startswith("얼마") or _asks_ko_degree(word, eojeols[i + 1 :]):
            answer_type, wh_span = "number", (start, start + 2)
            if _asks_ko_duration(word, [e for e, _, _ in eojeols[i + 1 :]]):
                unit_hint = DURATION
            elif i and _names_a_whole(eojeols[i - 1][0]) and word != "얼마의":  # '얼마의 비자금': an amount
                unit_hint = RELATIVE
            elif not word.startswith("얼마나") and nxt_raw.startswith(_KO_MONEY_VERBS):
                unit_hint = CURRENCY  # '얼마가 들었나', '얼마를 지급했나': money spent or paid
        elif word.startswith(("어디", "어딘")):
            answer_type, wh_span = "place", (start, start + 2)
        elif word.startswith("어느") and (word[2:] or nxt).startswith("정도"):
            continue  # '어느 정도 발전된': an adverb (the wh-phrase '어느 정도인가' was taken above)
        elif word.startswith(("어느", "어떤", "무슨", "어떠한")) and nxt:
            kind, head = _head_kind(nxt)
            answer_type, wh_span = kind or "thing", (start, start + len(word))
            if kind == "number":
                unit_hint = unit_hint or _unit_of_counter(nxt)
        elif word.startswith(("무엇", "뭐", "무얼", "뭘")):
            answer_type, wh_span = answer_type or "thing", (start, start + (1 if word[0] == "뭐" or word[0] == "뭘" else 2))
        elif word.startswith(("왜", "어떻게")):
            answer_type, wh_span = "other", (start, start + len(word))
        if answer_type and wh_span and wh_span[0] == start:
            break

    # The asked-for noun: before '무엇/누구/어디' ('회사는 어디인가') or the last eojeol ('지명수배된 날은?').
    head_index = _ko_head_index(eojeols, stems, wh_span)
    if head_index is not None:
        kind, found = _head_kind(stems[head_index])
        # '사람의 이름은?' asks for a person: look one noun back from a generic '이름/명칭'.
        if found in ("이름", "명칭") and head_index > 0:
            prev_kind, prev_head = _head_kind(stems[head_index - 1])
            if prev_kind in ("person", "organization", "place"):
                kind, found = prev_kind, prev_head
        if kind:
            head = found
            # '어디' stays a place unless the head names an organization ('방송사는 어디인가'): the head of
            # '친영을 거행할 때 어디로' is no date
            explicit = answer_type in ("person", "date", "number", "place") and wh_span is not None
            if answer_type in (None, "thing") or (answer_type == "place" and kind == "organization"):
                answer_type = kind
            elif not explicit and kind != answer_type:
                answer_type = kind
            if kind == "number" and unit_hint is None:
                # '걸린 시간은 얼마인가' may be answered in minutes or days: any unit of time ('몇 시간' set 시간 above)
                unit_hint = DURATION if found == "시간" else _unit_of_counter(found)

    if unit_hint is None:
        for stem in stems:
            unit = canonical_unit(stem)
            if unit in ("%", "달러", "원", "엔", "유로", "위안") or stem in ("퍼센트", "비율", "점유율", "비중"):
                unit_hint = unit or "%"
                break
    if unit_hint is None and answer_type == "number" and head and head.endswith(("률", "율")):
        unit_hint = "%"

    terms, spans = [], []
    for (word, start, end), stem in zip(eojeols, stems):
        if wh_span and start < wh_span[1] and end > wh_span[0]:
            continue
        if not stem or stem in _KO_STOP or (head and stem == head and stem == stems[-1]):
            continue
        if len(stem) == 1 and not stem.isdigit() and not stem.isascii():
            continue
        terms.append(stem)
        spans.append((start, start + len(stem)))
    return QuestionAnalysis(
        text=text,
        lang="ko",
        answer_type=answer_type or "other",
        unit_hint=unit_hint,
        terms=tuple(terms),
        wh_span=wh_span,
        head_noun=head,
        wants_list=bool(_LIST_MARKERS.search(text)),
        list_size=_list_size(_KO_LIST_REQUEST.search(text), _KO_NUMBER_WORDS),
        plural_asked=bool(_KO_PLURAL_ASKED.search(text)),
        term_spans=tuple(spans),
    )


def _list_size(match: re.Match | None, number_words: dict[str, int]) -> int | None:
    if match is None:
        return None
    word = match.group(1).lower()
    return int(word) if word.isdigit() else number_words[word]


def _ko_head_index(eojeols, stems, wh_span) -> int | None:
    if not eojeols:
        return None
    if wh_span is not None:
        wh_index = next(i for i, (_, s, e) in enumerate(eojeols) if s <= wh_span[0] < e)
        word = eojeols[wh_index][0]
        if word.startswith(("어느", "어떤", "무슨", "어떠한")) and wh_index + 1 < len(eojeols):
            return wh_index + 1
        if wh_index > 0 and word.startswith(("무엇", "뭐", "누구", "어디", "어딘", "언제", "얼마")):
            return wh_index - 1  # '설립한 회사는 어디인가?'
        return None
    return len(eojeols) - 1


def _unit_of_counter(counter: str) -> str | None:
    counter = counter.strip()
    for length in range(len(counter), 0, -1):
        unit = canonical_unit(counter[:length])
        if unit:
            return unit
    if counter in ("인원", "관객", "관객수", "인구"):
        return "명"
    if counter.endswith(("률", "율", "비율", "비중")):
        return "%"
    if counter.endswith("기간"):
        return DURATION  # '운영 기간은?': days, months or years
    return None


# '얼마 동안', '얼마 만에', '얼마간', '얼마나 걸렸나' ask for a span of time, not an amount; so does '얼마나'
# with a verb that lasts rather than counts ('얼마나 자나', '얼마나 머물렀나', '얼마나 지속됐나').
_KO_DURATION_VERBS = ("걸리", "걸렸", "걸린", "걸릴", "걸려", "소요", "지속", "계속되", "계속됐", "머물", "머무",
                      "기다리", "기다렸", "자나", "잤", "자는가", "자고", "잠을", "수면")


# Verbs of spending, paying and raising: '얼마가 들었나' asks what it cost ('얼마나 들었나' may ask how many
# went in: not taken).
_KO_MONEY_VERBS = ("들었", "드나", "드는", "들어", "들여", "들였", "들인", "들일", "들까", "지급", "지불", "냈", "내야",
                   "내는", "낸", "썼", "쓴", "쓰는", "벌었", "버는", "번", "투자", "투입", "배상", "모금", "조달")


# What '어느 정도' may be asked of ('어느 정도 수준인가', '어느 정도 거리'), and particles written apart from it
# ('어느 정도 까지'): otherwise it is an adverb ('어느 정도 발전된 식민지').
_KO_DEGREE_NOUNS = ("수준", "규모", "비율", "비중", "거리", "크기", "높이", "깊이", "길이", "넓이", "속도", "무게", "기간")
_KO_DETACHED_PARTICLES = ("까지", "로", "의", "였", "이었", "인가")


def _asks_ko_degree(word: str, following: list[tuple[str, int, int]]) -> bool:
    """Whether '어느 정도' is the question's wh-phrase ('어느 정도인가', '어느정도를', '어느 정도 수준인가'), not an
    adverb ('어느 정도 발전된 식민지')."""
    if not word.startswith("어느"):
        return False
    degree = word[2:] or (following[0][0] if following else "")
    after = following[0 if word[2:] else 1 :]
    if not degree.startswith("정도"):
        return False
    if degree != "정도" or not after:
        return True
    return after[0][0].startswith(_KO_DEGREE_NOUNS + _KO_DETACHED_PARTICLES)


_KO_QUESTION_WORDS = ("무엇", "뭐", "무얼", "뭘", "누구", "누가", "어디", "언제")


def _several_before_a_question_word(counter: str, following: list[tuple[str, int, int]]) -> bool:
    """Whether '몇' means 'several': '몇몇', '몇 천명의 학생들이', or a place phrase before the real question
    word ('미국의 몇개주에서 … 법을 뭐라고 하나요?')."""
    if counter.startswith("몇"):  # '몇몇'
        return True
    if counter[:1] and counter[0] in "십백천만" and counter.endswith("의"):  # '몇 천명의 학생들이': thousands of them
        return True
    return counter.endswith("에서") and any(w.startswith(_KO_QUESTION_WORDS) for w, _, _ in following)


def _names_a_whole(word: str) -> bool:
    """Whether the eojeol before '얼마' / '어느 정도' names what the answer is a share of: '금액의', '추징금 중'."""
    return word == "중" or (len(word) > 1 and word.endswith("의"))


def _asks_ko_duration(wh_word: str, following: list[str]) -> bool:
    if wh_word.startswith("얼마간") or following and following[0].startswith(("동안", "만에", "만이")):
        return True
    return any(word.startswith(_KO_DURATION_VERBS) for word in following)


# --- English -------------------------------------------------------------------------------------------

_EN_STOP = frozenset(
    """a an the of in on at to for from by with about as into over after before under between during and or
    but is are was were be been being do does did has have had will would can could should may might must
    what which who whom whose when where why how that this these those it its their his her they them he she
    we you i me my our your not no than then there here according did say said says tell named name called
    much many long far often kind type sort any some one ones""".split()
)

_EN_HEADS: dict[str, tuple[str, ...]] = {
    "organization": (
        "company", "companies", "firm", "firms", "organization", "organisation", "organizations", "agency",
        "agencies", "group", "startup", "startups", "corporation", "institution", "institute", "university",
        "bank", "team", "party", "outlet", "newspaper", "publisher", "manufacturer", "maker", "makers",
        "chipmaker", "chipmakers", "lab", "labs", "government", "ministry", "department", "regulator",
        "business", "businesses", "automaker", "carrier", "network", "broadcaster", "club", "committee",
        "brand", "vendor", "supplier", "suppliers", "rival", "rivals", "competitor", "competitors",
        "customer", "customers", "client", "clients", "partner", "partners", "buyer", "buyers",
        "brokerage", "brokerages", "insurer", "lender", "hospital", "school", "court", "association",
        "federation", "council", "airline",
    ),
    "person": (
        "person", "people", "ceo", "author", "analyst", "lawmaker", "lawmakers", "professor", "president",
        "chairman", "founder", "minister", "senator", "representative", "executive", "official", "researcher",
        "scientist", "player", "coach", "director", "leader", "king", "queen", "reporter", "journalist",
        "spokesperson", "spokesman", "chief", "man", "woman", "actor", "singer", "writer", "engineer",
        "investor", "judge", "prosecutor", "candidate", "member", "members", "secretary", "emperor", "general",
        "manager", "head", "chair", "son", "daughter", "wife", "husband", "father", "mother",
    ),
    "place": (
        "country", "countries", "city", "cities", "place", "region", "state", "province", "location", "nation",
        "town", "area", "island", "continent", "district", "site", "venue", "capital", "port", "airport",
        "nationality", "hometown", "birthplace",
    ),
    "date": ("date", "day", "year", "month", "time", "decade", "century", "era", "period", "season"),
    "number": (
        "number", "amount", "percentage", "percent", "share", "price", "cost", "size", "rate", "ratio", "total",
        "value", "revenue", "sales", "count", "fraction", "proportion", "age", "population", "budget",
        "valuation", "fee", "salary", "score", "figure", "altitude", "height", "length", "distance", "depth",
        "weight", "capacity", "temperature", "width",
    ),
    "thing": (
        "chip", "chips", "product", "products", "model", "models", "service", "name", "title", "technology",
        "processor", "processors", "program", "system", "book", "film", "movie", "song", "album", "law", "bill",
        "policy", "rule", "regulation", "app", "platform", "device", "word", "term", "event", "game", "award",
        "prize", "position", "role", "job", "language", "method", "software", "tool", "gpu", "gpus", "weapon",
        "drug", "disease", "material", "crime", "charge", "piece", "work", "novel", "series", "report",
    ),
}
_EN_HEAD_KIND = {noun: kind for kind, nouns in _EN_HEADS.items() for noun in nouns}
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)*%?|[$₩€¥%]")
_EN_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
# 'Which four companies…', 'What are the two…', 'Name the three…': the answer is that many items.
_EN_LIST_REQUEST = re.compile(
    r"^\s*(?:which|what|who|name|list)\s+(?:(?:are|were)\s+)?(?:the\s+)?(two|three|four|five|six|seven|eight|nine|ten|[2-9])\b", re.I
)
_PLURAL_HEAD = re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?(\w+s)\b|\b(?:name|list)\s+(?:the\s+)?(?:two|three|four|five|all)\b", re.I)


def _analyze_english(text: str) -> QuestionAnalysis:
    lower = text.lower()
    words = [(m.group(), m.start(), m.end()) for m in _EN_WORD.finditer(text)]
    low = [w.lower() for w, _, _ in words]
    answer_type, wh_span, unit_hint, head = None, None, None, None

    def span(i: int, j: int) -> tuple[int, int]:
        return words[i][1], words[j][2]

    for i, w in enumerate(low):
        nxt = low[i + 1] if i + 1 < len(low) else ""
        if w in ("who", "whom", "whose"):
            answer_type, wh_span = "person", span(i, i)
        elif w == "when":
            answer_type, wh_span = "date", span(i, i)
        elif w == "where":
            answer_type, wh_span = "place", span(i, i)
        elif w == "how" and nxt in ("many", "much", "long", "far", "big", "large", "old", "often", "high", "fast"):
            answer_type, wh_span = "number", span(i, i + 1)
            # the counted noun may follow an adjective or two: 'how many plainclothes police officers'; 'how
            # long' counts nothing ('how long do students keep…' asks for time, not people)
            following = low[i + 2 : i + 5] if nxt != "long" else [w for w in low[i + 2 : i + 5] if canonical_unit(w) in DURATION_UNITS]
            unit_hint = next((canonical_unit(w) for w in following if canonical_unit(w)), None)
            unit_hint = unit_hint or {"long": None, "old": "세"}.get(nxt)
            if unit_hint is None and nxt == "long" and ((i and low[i - 1] == "for") or _DURATION_VERBS & set(low)):
                unit_hint = DURATION  # 'how long did the closure last', not 'how long is the bridge'
            if unit_hint is None and nxt in ("much", "large", "big") and any(w in _MONEY_WORDS for w in low):
                unit_hint = CURRENCY  # 'how much money/did it cost/invest', 'how large is the investment'
            elif unit_hint is None and nxt == "many" and i + 2 < len(low) and low[i + 2].endswith("s"):
                unit_hint = "개"  # 'how many chips': Korean counts things with the general counter 개
        elif w in ("which", "what") or (w == "name" and i == 0):
            # the noun right after, or after one adjective: 'which Chinese company'
            for j in range(i + 1, min(i + 4, len(low))):
                if _EN_HEAD_KIND.get(low[j]):
                    while j + 1 < len(low) and _EN_HEAD_KIND.get(low[j + 1]) and low[j] not in ("total", "number", "chief"):
                        j += 1  # a compound names its last noun: 'which city council', 'what commission rate'
                    answer_type, head, wh_span = _EN_HEAD_KIND[low[j]], low[j], span(i, j)
                    break
            if answer_type is None and nxt in ("is", "was", "are", "were") and i + 2 < len(low) and (
                    low[i + 2] in ("the", "a", "an") or words[i + 2][0][:1].isupper()):
                # 'what were the agency's consolidated sales for…', 'what was Han's batting average': the
                # last noun of the phrase after the copula ('time' and 'season' there say when, not what)
                for j in range(i + 2, min(i + 8, len(low))):
                    if low[j] in _EN_PHRASE_ENDS:
                        break
                    if _EN_HEAD_KIND.get(low[j]) and low[j] not in ("time", "season", "period") and not words[j][0].isupper():
                        answer_type, head, wh_span = _EN_HEAD_KIND[low[j]], low[j], span(i, j)
            if answer_type is None:
                answer_type, wh_span = ("other" if nxt in ("is", "was", "are", "were", "does", "did", "do") and w == "what" else "thing"), span(i, i)
            if head in _EN_SHARE_HEADS and "exchange" not in low:
                unit_hint = "%"  # not an exchange rate: '940원 per 100 yen'
            elif head in _EN_MONEY_HEADS and not _EN_SHARE_WORDS & set(low):
                unit_hint = CURRENCY  # 'what was the price of…': some currency ('the sales growth rate': a share)
        elif w == "why" or (w == "how" and answer_type is None):
            answer_type, wh_span = "other", span(i, i)
        if answer_type:
            break

    if unit_hint is None:
        for w in low:
            unit = canonical_unit(w)
            if unit in ("%", "달러", "원", "엔", "유로", "위안", "시간"):
                unit_hint = unit
                break
    # 'what is X' with X a definable thing stays 'other'; 'what year/date' already became 'date'.
    terms, spans = [], []
    for (word, start, end), w in zip(words, low):
        if w in _EN_STOP or (len(w) == 1 and not w.isdigit()) or w == head:
            continue
        terms.append(w if not word.isupper() else word)  # keep acronyms' case: 'H800', 'GPU'
        spans.append((start, end))
    plural = _PLURAL_HEAD.search(text)
    wants_list = bool(plural and (plural.group(1) or "").lower() in _EN_HEAD_KIND) or bool(
        re.search(r"\b(?:name|list)\s+(?:the\s+)?(?:two|three|four|five|all)\b", lower)
    )
    return QuestionAnalysis(
        text=text,
        lang="en",
        answer_type=answer_type or "other",
        unit_hint=unit_hint,
        terms=tuple(terms),
        wh_span=wh_span,
        head_noun=head,
        wants_list=wants_list,
        list_size=_list_size(_EN_LIST_REQUEST.search(text), _EN_NUMBER_WORDS),
        term_spans=tuple(spans),
    )


# A year: four digits 1000-2099 standing alone (not inside '12,024' or '2024.5', not a decade: '1960s'); in
# Korean, as a year ('2023년', '2024시즌', '2027학년도'), not a count ('2048개').
_YEAR = {
    "ko": re.compile(r"(?<![\d,.])(1\d{3}|20\d{2})(?=\s*(?:년|시즌|학년도|회계연도))"),
    "en": re.compile(r"(?<![\d,.$])(1\d{3}|20\d{2})(?![\d%s]|[.,]\d|\s*(?:percent|people|units|chips|won|dollars))"),
}


def named_years(text: str, lang: str) -> tuple[str, ...]:
    """The years a question names, each once, in order."""
    return tuple(dict.fromkeys(_YEAR[lang].findall(text)))


# A year told relative to the article's own ('지난해 1월', 'last year'): news writes the year it means this way.
_RELATIVE_YEAR = re.compile(r"지난\s?해|작년|올해|내년|금년|전년|last year|this year|next year", re.IGNORECASE)
_STANDALONE_YEAR = re.compile(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)")


def states_years(text: str, years: tuple[str, ...]) -> bool:
    """Whether ``text`` can mean every one of ``years``: it names the year, or names the year before or after
    it and speaks of a year relative to its own ('지난해', 'next year'). A question about 2023 is not
    answered by an article that never mentions it: of 657 KorQuAD training-article questions naming a year,
    6 name one their article lacks (typos among them)."""
    if not years:
        return True
    stated = {int(y) for y in _STANDALONE_YEAR.findall(text)}
    if _RELATIVE_YEAR.search(text):
        stated |= {y + step for y in stated for step in (-1, 1)}
    return all(int(year) in stated for year in years)


def analyze_question(text: str) -> QuestionAnalysis:
    """Type, unit and matching terms of a Korean or English question, with no model loaded."""
    text = text.strip()
    lang = detect_language(text) if text else "en"
    analysis = _analyze_korean(text) if lang == "ko" else _analyze_english(text)
    analysis = replace(analysis, years=named_years(text, lang))
    if analysis.answer_type == "number" and analysis.unit_hint is None and lang == "ko" and any(h in text for h in _KO_MONEY_HEADS):
        analysis = replace(analysis, unit_hint=CURRENCY)  # '투자한 금액은 얼마인가': some currency
    return analysis


__all__ = ["ANSWER_TYPES", "QuestionAnalysis", "UNIT_FORMS", "analyze_question", "canonical_unit", "named_years",
           "states_years", "strip_particles"]
