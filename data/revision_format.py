"""The multi-attempt format of the revision model (the paper leaves it open).

Previous attempts go into the question, after it, most recent last, so the same text works in
the plain template and in a chat template (they become part of the user's message):

    Problem: Compute 35+13.

    Previous attempt 1:
    =47
    \\boxed{47}

    Solution:

Only the `max_attempts` most recent attempts are kept (paper: 4), numbered from 1 in the kept
window, so a chain of any length fits the context the reviser was trained on. The revision ORM
scores a revision with the same text as its question (previous attempts in context).
"""

from __future__ import annotations

from typing import Sequence

MAX_ATTEMPTS = 4


def revision_question(question: str, previous: Sequence[str], max_attempts: int = MAX_ATTEMPTS) -> str:
    """`question` with the most recent `max_attempts` of `previous` appended."""
    if max_attempts < 0:
        raise ValueError(f"max_attempts must be >= 0, got {max_attempts}")
    kept = list(previous)[-max_attempts:] if max_attempts else []
    parts = [question] + [f"Previous attempt {i}:\n{attempt.strip()}" for i, attempt in enumerate(kept, 1)]
    return "\n\n".join(parts)
