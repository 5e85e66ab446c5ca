"""Kind `math-shepherd`: peiyi9979/math-shepherd-mistral-7b-prm and PRMs trained in its format.

The model card's format (Wang et al. 2024, Math-Shepherd): the question, a space, then the steps,
each followed by " ки" and the next one on a new line:
    f"{question} {step_1} ки\\n{step_2} ки\\n...{step_n} ки"
tokenized whole with the tokenizer's own special tokens (Mistral's BOS). At every tag token the
causal LM predicts "+" (good) or "-" (bad); a step's value is the softmax over those two logits,
P(+). In the card's Mistral vocabulary the tag "▁ки" is id 12902, "▁+" 648 and "▁-" 387 (what
`tokenizer.encode("+ -")[1:]` gives there): each option is one token of its tokenizer.
Aggregation: `min`, the paper's (a solution is as good as its worst step).
"""

from __future__ import annotations

from dataclasses import dataclass

from ttc.verifiers.kind import Encoded, LabelTokenKind, Positions, tag_positions


class MathShepherd(LabelTokenKind):
    name = "math-shepherd"
    aggregation = "min"

    @dataclass(frozen=True)
    class Options:
        step_tag: str = "ки"
        good: str = "+"
        bad: str = "-"

    def bind(self, tokenizer) -> None:
        super().bind(tokenizer)
        self.tag = self.single_token("step_tag", self.opts.step_tag)

    def label_ids(self) -> tuple[int, int]:
        return self.single_token("good", self.opts.good), self.single_token("bad", self.opts.bad)

    def text(self, question: str, steps: list[str]) -> str:
        tag = self.opts.step_tag
        return f"{question} " + "\n".join(f"{step} {tag}" for step in steps)

    def encode(self, question: str, steps: list[str]) -> Encoded[Positions]:
        ids = self.tokenizer.encode(self.text(question, steps))
        return ids, tag_positions(ids, self.tag)
