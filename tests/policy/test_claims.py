"""Action claims in the agent's words: what counts as saying something was done, and what does not."""

from __future__ import annotations

import pytest

from voxmcp.policy.claims import action_claims


@pytest.mark.parametrize(
    "said",
    [
        "I've saved your note.",
        "Sure, I'll remember that Carlos's birthday is on June 12.",
        "I remember that your sister is Anna.",
        "Your note was added.",
        "It has been deleted.",
        "Done!",
        "Okay, I added bread to your shopping list.",
        "I have successfully written the file ideas.txt.",
        "Successfully wrote to /tmp/sandbox/ideas.txt.",
        "Noted.",
        "Saved note 7: Buy eggs.",
        "Got it, saved.",
        "I’ve sent the email to your boss.",  # a typographic apostrophe
        "Your shopping list is now updated.",
        "I've forgotten everything about Biscuit.",
        "I went ahead and deleted Biscuit.",
        "We have booked your table for two.",
        "Consider it done.",
        "You're all set.",
        "It's saved in your notes.",
        "I've made a note of that.",
        "I will keep that in mind.",
        "Anna lives in Lisbon. I've stored that too.",  # a claim in the second sentence
    ],
)
def test_claims(said: str) -> None:
    assert action_claims(said), said


@pytest.mark.parametrize(
    "said",
    [
        "I couldn't save it.",
        "I could not delete the file.",
        "Sorry, I wasn't able to save that.",
        "It was not saved.",
        "Nothing was deleted.",
        "I haven't saved anything.",
        "I'm not sure it was saved.",
        "I didn't hear a yes, so I haven't done it.",
        "Okay, I won't.",
        # questions and offers
        "Shall I save it?",
        "Do you want me to delete Biscuit?",
        "Let me know if you want me to save it.",
        "I can save it if you like.",
        "I can't book tables, but I can save a note.",
        # sums, history and facts
        "The sum of 38 and 4 is 42.",
        "I added 38 and 4 and got 42.",
        "The file was created on 4 December 2026.",
        "Anna lives in Lisbon.",
        "I remember you told me Anna lives in Lisbon.",
        "I found two files: shopping.txt and todo.txt.",
        "It is 6:40 PM in Berlin.",
        # quoted content read out is the file's, not the agent's
        'The note says "I saved the receipts".',
        "",
    ],
)
def test_not_claims(said: str) -> None:
    assert action_claims(said) == [], said


def test_each_claim_is_reported_once_per_clause() -> None:
    assert action_claims("I've saved it, and I've sent it. Done.") == ["i've saved it", "and i've sent it", "done"]


@pytest.mark.parametrize(
    ("said", "claims"),
    [
        ("Idea file created.", ["idea file created"]),  # a headline passive
        ("Note saved.", ["note saved"]),
        ("Saved note 7: I paid the rent.", ["saved note 7"]),  # after the colon: the note's own words
        ("Note 1: buy eggs. Note 2: dentist appointment scheduled.", []),  # a listing read out
        ("It is 6:40. I have saved it.", ["i have saved it"]),  # a time's colon is no content marker
    ],
)
def test_headlines_and_colons(said: str, claims: list[str]) -> None:
    assert action_claims(said) == claims


@pytest.mark.parametrize(
    ("said", "claims"),
    [
        ("Sure, I'll go ahead and forget Biscuit.", ["i'll go ahead and forget biscuit"]),
        ("I'll send it now.", ["i'll send it now"]),  # a promise of the effect, with nothing sent
        ("I'll delete it once you confirm.", []),  # a condition: an offer
        ("I'll delete it if you say yes.", []),
        ("I'll add 38 and 4.", []),
        ("I'll check that for you.", []),  # no effect promised
    ],
)
def test_promises(said: str, claims: list[str]) -> None:
    assert action_claims(said) == claims
