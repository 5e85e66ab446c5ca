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

A base model has seen that layout (the few-shot layout of the 4-shot prompt; the toy base's second
pretraining phase), so before any revision training it already solves the last question with
the attempts in context; attempts appended to the question instead ("Previous attempt 1: ...")
cost a correct solution far more nats a token on the toy base (docs/extending.md).

The revision ORM is a PRM-format model: it reads one question string, so its question holds the
attempts after it, `revision_question`. Both keep only the `max_attempts` most recent attempts
(paper: 4), and `fit_attempts` drops the oldest of those while the text would not fit the model's
context (the reviser's: max_model_len less the attempt's max_tokens): long attempts otherwise
outgrow it, and an engine refuses the request. Every place that builds these texts fits them
with it: the chains (ttc/revise/chains.py), the ORM's scoring and training data, the reviser's
training (train/revision.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

from data.config import ConfigError
from data.prompts import PromptFormat

MAX_ATTEMPTS = 4


class ContextError(ConfigError):
    """A text that does not fit its model's context even with no previous attempt in it."""


def kept(previous: Sequence[str], max_attempts: int) -> list[str]:
    """The `max_attempts` most recent attempts."""
    if max_attempts < 0:
        raise ValueError(f"max_attempts must be >= 0, got {max_attempts}")
    return list(previous)[-max_attempts:] if max_attempts else []


class Fitted(NamedTuple):
    text: str
    dropped: int  # the oldest of the kept attempts left out to fit the context


@dataclass(frozen=True)
class Fit:
    """A model's context as fitting reads it: `count_tokens` of a text (all the model reads of
    it), at most `limit` of them (max_model_len less what the model adds: the generation's
    max_tokens); `where` names the problem and the limit in the error when even none fits."""

    count_tokens: Callable[[str], int]
    limit: int
    where: str


def fit_attempts(
    render: Callable[[list[str]], str], previous: Sequence[str], max_attempts: int, fit: Fit | None
) -> Fitted:
    """`render(attempts)` with as many of the `max_attempts` most recent `previous` attempts as
    keep it within `fit`'s limit, dropping the oldest first; no `fit` (a model that states no
    context): all of them."""
    window = kept(previous, max_attempts)
    if fit is None:
        return Fitted(render(window), 0)
    for dropped in range(len(window) + 1):
        text = render(window[dropped:])
        tokens = fit.count_tokens(text)
        if tokens <= fit.limit:
            return Fitted(text, dropped)
    raise ContextError(f"{fit.where}: {tokens} tokens with no previous attempt, over the limit of {fit.limit}")


def revision_prompt(
    prompt: PromptFormat,
    question: str,
    previous: Sequence[str],
    tokenizer=None,
    max_attempts: int = MAX_ATTEMPTS,
    fit: Fit | None = None,
) -> Fitted:
    """What the reviser continues, in training (train/revision.py) and in chains alike."""
    return fit_attempts(
        lambda attempts: prompt.render(question, tokenizer, earlier=attempts), previous, max_attempts, fit
    )


def revision_question(
    question: str, previous: Sequence[str], max_attempts: int = MAX_ATTEMPTS, fit: Fit | None = None
) -> Fitted:
    """The ORM's question: `question` with the kept attempts appended, numbered in the window."""

    def render(attempts: list[str]) -> str:
        return "\n\n".join([question] + [f"Previous attempt {i}:\n{a.strip()}" for i, a in enumerate(attempts, 1)])

    return fit_attempts(render, previous, max_attempts, fit)
