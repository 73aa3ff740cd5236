"""policy/honesty.py: clause-by-clause release of streamed text, with unbacked action claims held back."""

from __future__ import annotations

from voxmcp.policy.honesty import ClaimGuard


def _stream(guard: ClaimGuard, pieces: list[str]) -> list[str]:
    out = [guard.feed(p) for p in pieces]
    out.append(guard.flush())
    return out


def test_text_goes_out_a_clause_at_a_time() -> None:
    guard = ClaimGuard(backed=False)
    out = _stream(guard, ["The weather ", "in Paris is", " cloudy, 13 ", "degrees."])
    assert out == ["", "", "The weather in Paris is cloudy, ", "13 degrees.", ""]
    assert guard.held == "" and guard.claims == []


def test_a_claiming_clause_and_everything_after_it_is_held() -> None:
    guard = ClaimGuard(backed=False)
    out = _stream(guard, ["Sure, ", "I've added ", "eggs to your list. ", "Anything else?"])
    assert "".join(out) == "Sure, "
    assert guard.held == "I've added eggs to your list. Anything else?"
    assert guard.claims == ["i've added eggs to your list"]


def test_a_claim_in_the_last_unfinished_clause_is_caught_at_the_end() -> None:
    guard = ClaimGuard(backed=False)
    assert _stream(guard, ["Okay. ", "Note saved"]) == ["Okay. ", "", ""]
    assert guard.held == "Note saved"


def test_a_backed_turn_passes_text_as_it_comes() -> None:
    guard = ClaimGuard(backed=True)
    assert _stream(guard, ["I've saved ", "your note."]) == ["I've saved ", "your note.", ""]


def test_content_after_a_colon_is_not_the_agents_claim() -> None:
    guard = ClaimGuard(backed=False)
    assert "".join(_stream(guard, ["Your note says: ", "I paid the rent."])) == "Your note says: I paid the rent."


def test_quiet_holds_everything() -> None:
    guard = ClaimGuard(backed=False, quiet=True)
    assert _stream(guard, ["Hello, ", "there."]) == ["", "", ""]
    assert guard.held == "Hello, there."


def test_after_a_read_a_reported_fact_passes_but_the_agents_own_claim_does_not() -> None:
    guard = ClaimGuard(backed=False, reported=True)
    assert "".join(_stream(guard, ["Your meeting is scheduled ", "for 3 PM."])) == "Your meeting is scheduled for 3 PM."
    own = ClaimGuard(backed=False, reported=True)
    assert "".join(_stream(own, ["I've deleted ", "all your notes."])) == ""
    done = ClaimGuard(backed=False, reported=True)
    assert "".join(_stream(done, ["All done."])) == ""
    unread = ClaimGuard(backed=False)
    assert "".join(_stream(unread, ["Your meeting is scheduled ", "for 3 PM."])) == ""
