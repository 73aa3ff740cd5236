"""An `Asker` with scripted answers, for dialog scripts tested without a session."""

from __future__ import annotations


class ScriptedAsker:
    """Answers each question with the next scripted reply (None: silence); records everything said."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.said: list[str] = []
        self.asked: list[str] = []

    def tell(self, text: str) -> None:
        self.said.append(text)

    async def ask(self, text: str, *, timeout_s: float | None = None) -> str | None:
        self.said.append(text)
        self.asked.append(text)
        if not self.answers:
            raise AssertionError(f"the script asked more than expected: {text!r}")
        return self.answers.pop(0)
