"""The multi-attempt formats of the revision model and its ORM (the paper leaves them open).

The reviser sees its previous attempts as earlier answers to the same question, in the few-shot
layout of data/prompts.py (a chat model: as earlier turns of the conversation), most recent
last, then the question once more:

    Problem: Compute 35+13.
    Solution:
    =47
    \\boxed{47}

    Problem: Compute 35+13.
    Solution:

A base model has seen that layout (the paper's few-shot prompt; the toy base's second
pretraining phase), so before any revision training it already solves the last question with
the attempts in context. Attempts appended to the question instead ("Previous attempt 1: ...")
were measured on the toy base: a correct solution costs 1.4-1.6 nats a token after 1-4
attempts, against 0.05-0.09 in this layout (0.01 with none).

The revision ORM is a PRM-format model: it reads one question string, so its question holds the
attempts after it, `revision_question`. Both keep only the `max_attempts` most recent attempts
(paper: 4), so a chain of any length fits the context the models were trained on.
"""

from __future__ import annotations

from typing import Sequence

from data.prompts import PromptFormat

MAX_ATTEMPTS = 4


def kept(previous: Sequence[str], max_attempts: int) -> list[str]:
    """The `max_attempts` most recent attempts."""
    if max_attempts < 0:
        raise ValueError(f"max_attempts must be >= 0, got {max_attempts}")
    return list(previous)[-max_attempts:] if max_attempts else []


def revision_prompt(prompt: PromptFormat, question: str, previous: Sequence[str], tokenizer=None,
                    max_attempts: int = MAX_ATTEMPTS) -> str:
    """What the reviser continues, in training (train/revision.py) and in chains alike."""
    return prompt.render(question, tokenizer, earlier=kept(previous, max_attempts))


def revision_question(question: str, previous: Sequence[str], max_attempts: int = MAX_ATTEMPTS) -> str:
    """The ORM's question: `question` with the kept attempts appended, numbered in the window."""
    attempts = [f"Previous attempt {i}:\n{attempt.strip()}" for i, attempt in enumerate(kept(previous, max_attempts), 1)]
    return "\n\n".join([question] + attempts)
