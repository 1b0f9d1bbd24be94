"""Topic names: Lasair's rule, made ASCII-safe and length-limited."""

from __future__ import annotations

import re

import pytest

from skysift.errors import FilterRejected
from skysift.streams.topics import MAX_TOPIC_LENGTH, topic_name


def test_lasair_example_from_the_seed_document():
    # the seed: a filter named "Has abs mag" of user 2 -> lasair_2Hasabsmag
    assert topic_name(2, "Has abs mag") == "lasair_2Hasabsmag"


@pytest.mark.parametrize("name", ["SN Ia (z<0.1)!", "ünïcødé_名前-1.0", "a b\tc\nd", "x" * 400])
def test_only_kafka_legal_ascii_and_at_most_249(name):
    t = topic_name(123, name)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", t)
    assert len(t) <= MAX_TOPIC_LENGTH
    kept = "".join(ch for ch in name if ch.isascii() and (ch.isalnum() or ch in "._-"))
    assert t == ("lasair_123" + kept)[:MAX_TOPIC_LENGTH]


def test_name_without_any_legal_character_is_refused():
    with pytest.raises(FilterRejected, match="at least one"):
        topic_name(1, "名前 !!")


def test_the_collision_lasair_allows_exists_in_the_rule():
    # user 1 "2SN" and user 12 "SN" give the same topic: manage.py must refuse the second
    assert topic_name(1, "2SN") == topic_name(12, "SN")
