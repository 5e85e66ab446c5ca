"""Kind `rlhflow`: RLHFlow/Llama3.1-8B-PRM-Mistral-Data and -Deepseek-Data.

Their format (RLHFlow/RLHF-Reward-Modeling, math-rm/README.md and prm_evaluate.py): a chat in
the checkpoint's own chat template (Llama 3.1's), one user turn per step, the first one the
question, a space and the first step; every user turn is answered by the assistant with "+":
    user: f"{question} {step_1}"  assistant: "+"  user: step_2  assistant: "+" ...
Steps are stripped, as their code does. A step's value is the softmax over the logits of "+" and
"-" at the token before its assistant reply (their "-3" position, each turn's "\\n\\n" after the
assistant header), P(+). prm_evaluate.py scores the conversation up to each step separately; a
causal LM gives the same values from one pass over the whole conversation, which is what this
reads. Aggregation: `last`, as search-and-learn scores these PRMs (prm_evaluate.py averages the
step values, which is not one of ours).
"""

from __future__ import annotations

from dataclasses import dataclass

from ttc.verifiers.kind import Encoded, LabelTokenKind, Positions, VerifierError


class RLHFlow(LabelTokenKind):
    name = "rlhflow"
    aggregation = "last"

    @dataclass(frozen=True)
    class Options:
        good: str = "+"
        bad: str = "-"

    def bind(self, tokenizer) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise VerifierError(
                f"path: {self.path}'s tokenizer has no chat template; kind {self.name} reads its "
                "steps as chat turns in the checkpoint's own template"
            )
        super().bind(tokenizer)

    def label_ids(self) -> tuple[int, int]:
        return self.single_token("good", self.opts.good), self.single_token("bad", self.opts.bad)

    def messages(self, question: str, steps: list[str]) -> list[dict[str, str]]:
        if not steps:
            return [{"role": "user", "content": question}]
        turns = []
        for k, step in enumerate(steps):
            text = f"{question} {step.strip()}" if k == 0 else step.strip()
            turns += [{"role": "user", "content": text}, {"role": "assistant", "content": self.opts.good}]
        return turns

    def render(self, messages: list[dict[str, str]], reply: bool = False) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=reply)

    def encode(self, question: str, steps: list[str]) -> Encoded[Positions]:
        """The whole conversation's ids, tokenized once as the chat template does (its own special
        tokens, none added); each step is read where the prompt for its reply ends, found by
        rendering that prompt (`add_generation_prompt`): the reply token must start there."""
        messages = self.messages(question, steps)
        text = self.render(messages)
        encoding = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = encoding["input_ids"]
        token_at = {start: i for i, (start, end) in enumerate(encoding["offset_mapping"]) if end > start}
        positions = []
        for k in range(len(steps)):
            prompt = self.render(messages[: 2 * k + 1], reply=True)
            i = token_at.get(len(prompt))
            if not text.startswith(prompt) or i is None or ids[i] != self.good:
                raise VerifierError(
                    f"path: {self.path}'s chat template does not put the reply {self.opts.good!r} as one "
                    f"token right after the prompt for it (turn {k + 1}); kind {self.name} needs a "
                    "template whose turns render as prefixes of the whole conversation"
                )
            positions.append(i - 1)
        return ids, positions
