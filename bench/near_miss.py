"""Near-miss questions for reader training (SQuAD 2.0 style): one of our questions with its year, model
number or named entity swapped for one its paragraph does not hold, labelled no-answer over that paragraph.

Why: the reader learnt to decline a paragraph about something else, but not one about almost the same
thing ('When did DeepSeek release R2?' over an R1 article); across languages it then answers such questions
confidently, and the calibration has to lean on retrieval similarity instead of the reader's support.
"""
from __future__ import annotations

import random
import re

YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
# A model or product number: letters then digits, as in R1, V3, H800, GPT-4, S8.
MODEL_NUMBER = re.compile(r"\b([A-Za-z]{1,6}-?)(\d{1,4})\b")
# A run of capitalized words (with Kim Hak-in, O'Neil); the question's first word is a question word.
NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’.-]*)*")
NOT_NAMES = {"Which", "What", "Who", "Whom", "Whose", "When", "Where", "Why", "How", "In", "On", "At", "By",
             "For", "From", "To", "According", "Under", "Through", "After", "Before", "During", "Name", "I",
             "The", "A", "An", "Roughly", "About", "Approximately", "Around", "Since", "With", "As", "Of"}
MONTHS = {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}


def names(question: str) -> list[str]:
    """Capitalized word runs of an English question, without leading question or function words."""
    out = []
    for match in NAME.finditer(question):
        words = match.group().split()
        while words and words[0] in NOT_NAMES:
            words.pop(0)
        if words:
            words[-1] = re.sub(r"['’]s?$", "", words[-1])  # the possessive stays in the question
        if words and not MONTHS & set(words):
            out.append(" ".join(words))
    return out


def swap_year(question: str, paragraph: str, rng: random.Random) -> str | None:
    years = list(YEAR.finditer(question))
    if not years:
        return None
    match = rng.choice(years)
    year = int(match.group())
    for shift in rng.sample([-3, -2, -1, 1, 2, 3], 6):
        new = str(year + shift)
        if new not in paragraph:
            return question[: match.start()] + new + question[match.end():]
    return None


def swap_model_number(question: str, paragraph: str, rng: random.Random) -> str | None:
    found = [m for m in MODEL_NUMBER.finditer(question) if not YEAR.fullmatch(m.group(2))]
    if not found:
        return None
    match = rng.choice(found)
    number = int(match.group(2))
    for shift in rng.sample([-2, -1, 1, 2], 4):
        if number + shift < 0:
            continue
        new = f"{match.group(1)}{number + shift}"
        if new.lower() not in paragraph.lower() and str(number + shift) not in paragraph:
            return question[: match.start()] + new + question[match.end():]
    return None


def swap_name(question: str, paragraph: str, donors: list[str], rng: random.Random) -> str | None:
    """The question's longest name replaced by a donor name of as many words that ``paragraph`` lacks."""
    own = names(question)
    if not own:
        return None
    target = max(own, key=len)
    size = len(target.split())
    fitting = [d for d in donors if len(d.split()) == size and d != target and d.lower() not in paragraph.lower()
               and d.lower() not in question.lower()]
    if not fitting:
        return None
    return question.replace(target, rng.choice(fitting), 1)


def near_miss(question: str, paragraph: str, donors: list[str] | None, rng: random.Random) -> str | None:
    """A variant of ``question`` that ``paragraph`` does not answer, or None. Years and model numbers are
    tried first (the closest misses); names only when ``donors`` (names from questions over other
    articles) are given: English questions. Korean questions have no reliable name boundary here."""
    for swap in (swap_year, swap_model_number):
        changed = swap(question, paragraph, rng)
        if changed is not None and rng.random() < 0.7:
            return changed
    return swap_name(question, paragraph, donors, rng) if donors else None


def article_specific_names(questions_by_group: dict) -> dict:
    """Group (an article) -> names in our English questions over other groups that appear in one group only
    (a name asked about in several articles, such as Korea or Seoul, may well be in any paragraph)."""
    seen: dict[str, set] = {}
    for group, questions in questions_by_group.items():
        for question in questions:
            for name in names(question):
                seen.setdefault(name, set()).add(group)
    specific = {name: next(iter(groups)) for name, groups in seen.items() if len(groups) == 1}
    return {group: sorted(n for n, g in specific.items() if g != group) for group in questions_by_group}
