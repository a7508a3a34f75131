"""The term splitter of knowledge search (app/domain/search.py), without the app."""
from __future__ import annotations

import pytest

from app.domain.search import (
    BODY_WEIGHT,
    MAX_TERM_LENGTH,
    TAG_WEIGHT,
    TITLE_WEIGHT,
    QueryTerm,
    index_terms,
    normalise_tag,
    prefix_upper_bound,
    query_terms,
    stored_form,
    weighted_terms,
)


def texts(terms: list[QueryTerm]) -> list[str]:
    return [term.text for term in terms]


# --- what is stored -------------------------------------------------------------------

def test_a_chinese_run_gives_its_characters_and_neighbouring_pairs():
    assert index_terms("空调漏水") == ["空", "调", "漏", "水", "空调", "调漏", "漏水"]


def test_the_query_漏水_is_one_of_the_pairs_stored_for_空调室内机漏水处理():
    stored = set(index_terms("空调室内机漏水处理"))
    assert texts(query_terms("漏水")) == ["漏水"]
    assert "漏水" in stored and {"空调", "室内", "内机", "处理"} <= stored


def test_latin_words_are_lower_cased_and_split_at_anything_but_letters_and_digits():
    assert index_terms("Compressor R410A, check-valve; AC_unit") == [
        "compressor", "r410a", "check", "valve", "ac", "unit"]


def test_mixed_text_splits_where_the_script_changes():
    assert index_terms("R410A空调") == ["r410a", "空", "调", "空调"]
    assert index_terms("更换PCB板") == ["更", "换", "更换", "pcb", "板"]


def test_full_width_letters_and_digits_match_their_ordinary_forms():
    assert index_terms("ＡＣ１２ 空调") == index_terms("ac12 空调")


def test_repeated_terms_are_kept_once_in_order_of_first_appearance():
    assert index_terms("leak LEAK Leak 漏水漏水") == ["leak", "漏", "水", "漏水", "水漏"]


@pytest.mark.parametrize("text", ["", "   ", "!!! ，。、 —", "___"])
def test_text_without_letters_or_digits_has_no_terms(text):
    assert index_terms(text) == []
    assert query_terms(text) == []


def test_a_very_long_word_is_cut_the_same_way_on_both_sides():
    word = "x" * (MAX_TERM_LENGTH + 10)
    assert index_terms(word) == ["x" * MAX_TERM_LENGTH]
    assert texts(query_terms(word)) == ["x" * MAX_TERM_LENGTH]


def test_japanese_and_korean_are_split_like_chinese():
    assert "漏れ" in index_terms("水漏れ")
    assert "에어" in index_terms("에어컨")


# --- what a query asks for ------------------------------------------------------------

def test_a_query_run_of_two_or_more_cjk_characters_asks_only_for_its_pairs():
    assert query_terms("室内机") == [QueryTerm("室内"), QueryTerm("内机")]


def test_a_single_cjk_character_asks_for_that_character():
    assert query_terms("水") == [QueryTerm("水")]


@pytest.mark.parametrize("word, prefix", [("ab", False), ("abc", True), ("compress", True), ("r4", False)])
def test_latin_query_words_of_three_characters_or_more_match_as_prefixes(word, prefix):
    assert query_terms(word) == [QueryTerm(word, prefix=prefix)]


def test_mixed_query():
    assert query_terms("R410A 空调 漏水") == [
        QueryTerm("r410a", prefix=True), QueryTerm("空调"), QueryTerm("漏水")]


def test_query_terms_are_unique():
    assert query_terms("Leak leak LEAK 漏水 漏水") == [QueryTerm("leak", prefix=True), QueryTerm("漏水")]


# --- weights, stored form, tags ---------------------------------------------------------

def test_each_term_keeps_the_best_weight_of_the_fields_it_appears_in():
    weights = weighted_terms("Leak fix", ["hvac", "漏水"], ["leak under the unit", None, "hvac fix"])
    assert weights["leak"] == TITLE_WEIGHT
    assert weights["fix"] == TITLE_WEIGHT
    assert weights["hvac"] == TAG_WEIGHT
    assert weights["漏水"] == TAG_WEIGHT
    assert weights["under"] == BODY_WEIGHT
    assert TITLE_WEIGHT > TAG_WEIGHT > BODY_WEIGHT


def test_stored_form_is_delimited_so_that_a_whole_term_can_be_found():
    assert stored_form(["漏水", "r410a"]) == " 漏水 r410a "
    assert " r410a " in stored_form(["漏水", "r410a"])
    assert stored_form([]) == ""


@pytest.mark.parametrize("raw, tag", [
    ("  HVAC ", "hvac"), ("Air  Con", "air con"), ("漏水", "漏水"), ("ＡＣ", "ac"),
])
def test_tags_are_trimmed_and_lower_cased(raw, tag):
    assert normalise_tag(raw) == tag


@pytest.mark.parametrize("prefix, bound", [("comp", "comq"), ("r41", "r42"), ("az", "a{")])
def test_prefix_upper_bound_is_above_every_word_with_the_prefix(prefix, bound):
    assert prefix_upper_bound(prefix) == bound
    for word in (prefix, prefix + "a", prefix + "zzzz", prefix + "9"):
        assert prefix <= word < bound


def test_the_query_跳闸_is_a_pair_stored_for_the_bilingual_title_断路器跳闸():
    stored = set(index_terms("Breaker trips under load / 断路器跳闸"))
    assert texts(query_terms("跳闸")) == ["跳闸"]
    assert {"跳闸", "断路", "breaker", "trips"} <= stored
