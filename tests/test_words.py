"""voxmcp/words.py: one table of English number words, read the same way by every layer."""

from voxmcp.evals import scoring
from voxmcp.models import grounding, toolcalls
from voxmcp.voice import answers
from voxmcp.words import SINGLE_NUMBER_WORDS, TENS, UNITS


def test_the_number_words_are_one_table() -> None:
    assert SINGLE_NUMBER_WORDS["twelve"] == 12 and SINGLE_NUMBER_WORDS["forty"] == 40
    assert grounding.NUMBER_WORDS["twelve"] == "12"
    assert toolcalls._NUMBER_WORDS["twelve"] == 12 and toolcalls._NUMBER_WORDS["half"] == 0.5
    assert answers._UNITS["twelve"] == 12 == scoring._ONES["twelve"]
    assert answers._TENS is TENS and scoring._TENS is TENS
    assert all(answers._UNITS[w] == v for w, v in UNITS.items())
