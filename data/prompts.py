"""Prompts: a few-shot format in the paper's layout (one step per line, boxed answer) or a chat template.

The paper prompts its base model with 4 worked solutions in PRM800K's step-by-step style, but
does not publish them: `math_shots.jsonl` is this project's own 4 shots in that layout. The toy
world uses the same template with no shots (its models are trained on it). Instruct models can
use their tokenizer's chat template instead (`chat_template: true`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

TEMPLATE = "Problem: {question}\nSolution:\n"
SHOTS_FILE = Path(__file__).with_name("math_shots.jsonl")


@dataclass(frozen=True)
class PromptFormat:
    """How a question becomes the text a base model continues."""

    template: str = TEMPLATE
    num_shots: int = 0
    shots_file: str = str(SHOTS_FILE)
    chat_template: bool = False
    system: str = "Solve the problem step by step, one step per line, and put the final answer in \\boxed{}."

    def __post_init__(self) -> None:
        if "{question}" not in self.template:
            raise ValueError("prompt template must contain {question}")
        if self.num_shots < 0:
            raise ValueError("num_shots must be >= 0")

    @cached_property
    def prefix(self) -> str:
        """The worked examples, rendered once; every prompt shares them (prefix caching)."""
        if self.num_shots == 0:
            return ""
        lines = Path(self.shots_file).read_text().splitlines()
        shots = [json.loads(line) for line in lines if line.strip()][: self.num_shots]
        if len(shots) < self.num_shots:
            raise ValueError(f"{self.shots_file}: has {len(shots)} shots, {self.num_shots} asked")
        return self.solved([(s["question"], s["solution"]) for s in shots])

    def solved(self, pairs: list[tuple[str, str]]) -> str:
        """(question, solution) pairs in the few-shot layout, each ending with a blank line."""
        return "".join(self.template.format(question=q) + solution.strip() + "\n\n" for q, solution in pairs)

    def render(self, question: str, tokenizer=None, earlier: Sequence[str] = ()) -> str:
        """The prompt for `question`; `earlier` answers to the same question come first, as
        solved examples (plain) or earlier turns of the conversation (chat)."""
        if not self.chat_template:
            earlier_answers = self.solved([(question, answer) for answer in earlier])
            return self.prefix + earlier_answers + self.template.format(question=question)
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("chat_template: true needs a tokenizer that has a chat template")
        messages = [{"role": "system", "content": self.system}]
        for answer in earlier:
            messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.strip()}]
        messages.append({"role": "user", "content": question})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
