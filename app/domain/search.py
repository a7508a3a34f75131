"""Text → search terms, for Chinese written without spaces as much as for English.

Chinese (and Japanese, Korean) is written without spaces, so there are no words to
index without a dictionary. Instead a run of such characters gives every single
character and every pair of neighbouring characters ("空调室内机漏水" → 空, 调, …,
空调, 调室, 室内, …, 漏水): any word of two characters or more is then found by the
pairs it is made of, and a one-character query by that character. Latin letters and
digits give lower-cased words ("R410A" → r410a). Text is NFKC-normalised first, so
full-width letters and digits (ＡＣ１２) match their ordinary forms.

A query is split the same way, except that a run of two or more CJK characters gives
only its pairs (the single characters would add nothing but noise), and that a Latin
word of three characters or more also matches longer words it begins
(``compress`` finds ``compressor``). A match needs every query term.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Weights of the fields a term comes from; a search ranks by the sum over its terms of
# the best weight each matched with, so a title that says it all comes first.
TITLE_WEIGHT = 3
TAG_WEIGHT = 2
BODY_WEIGHT = 1

# Longer Latin "words" (serial numbers, hashes) are cut: a query cut the same way still
# finds them, and the index stays small.
MAX_TERM_LENGTH = 40
# A Latin query word this long or longer also matches the words it begins.
PREFIX_MIN_LENGTH = 3

_WORD = re.compile(r"[^\W_]+")
_CJK = re.compile(
    "["
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B–G
    "]+"
)


@dataclass(frozen=True)
class QueryTerm:
    """One term of a query: matches a stored term equal to `text`, or beginning with it
    when `prefix` is true."""

    text: str
    prefix: bool = False


def normalise(text: str) -> str:
    """NFKC (full-width → ordinary forms) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def normalise_tag(tag: str) -> str:
    """A tag as stored and compared: NFKC, trimmed, lower-case, inner spaces single."""
    return " ".join(normalise(tag).split())


def _runs(text: str) -> Iterator[tuple[str, bool]]:
    """(run, is_cjk) for each run of letters and digits, CJK runs apart from Latin ones."""
    for word in _WORD.findall(normalise(text)):
        position = 0
        for match in _CJK.finditer(word):
            if match.start() > position:
                yield word[position:match.start()], False
            yield match.group(), True
            position = match.end()
        if position < len(word):
            yield word[position:], False


def _pairs(run: str) -> list[str]:
    return [run[i:i + 2] for i in range(len(run) - 1)]


def index_terms(text: str) -> list[str]:
    """The terms stored for `text`, unique, in order of first appearance."""
    terms: dict[str, None] = {}
    for run, cjk in _runs(text):
        if cjk:
            terms.update(dict.fromkeys(run))
            terms.update(dict.fromkeys(_pairs(run)))
        else:
            terms[run[:MAX_TERM_LENGTH]] = None
    return list(terms)


def query_terms(text: str) -> list[QueryTerm]:
    """The terms a query is made of, unique; none for a query without letters or digits."""
    terms: dict[QueryTerm, None] = {}
    for run, cjk in _runs(text):
        if cjk:
            for term in _pairs(run) if len(run) > 1 else [run]:
                terms[QueryTerm(term)] = None
        else:
            word = run[:MAX_TERM_LENGTH]
            terms[QueryTerm(word, prefix=len(word) >= PREFIX_MIN_LENGTH)] = None
    return list(terms)


def weighted_terms(title: str, tags: Iterable[str], body: Iterable[str | None]) -> dict[str, int]:
    """Every term of an item with the best weight of the fields it appears in."""
    weights: dict[str, int] = {}
    sources: list[tuple[str | None, int]] = [(title, TITLE_WEIGHT)]
    sources += [(tag, TAG_WEIGHT) for tag in tags]
    sources += [(text, BODY_WEIGHT) for text in body]
    for text, weight in sources:
        for term in index_terms(text or ""):
            weights[term] = max(weight, weights.get(term, 0))
    return weights


def stored_form(terms: Iterable[str]) -> str:
    """Terms space-separated with a space at either end, so that ``' term '`` finds one."""
    joined = " ".join(terms)
    return f" {joined} " if joined else ""


def prefix_upper_bound(prefix: str) -> str:
    """The least string above every string beginning with `prefix` (for a range scan)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
