"""Kind `qwen2.5-math-prm`: Qwen/Qwen2.5-Math-PRM-7B and -72B, loaded without remote code.

The checkpoint is `Qwen2ForProcessRewardModel`: a Qwen2 backbone (weights `model.*`) and a
two-class step head `score` = Linear(h, h), ReLU, Linear(h, 2) (weights `score.0.*`,
`score.2.*`; vLLM serves the architecture natively, models/qwen2_rm.py). transformers gets the
backbone from its own `Qwen2Model` and the head from the same weight names (`load_hf`), so no
code from the checkpoint runs.

The model card's format: the chat template with the card's system prompt, the question as the
user turn, and the assistant turn the steps joined by "<extra_0>", the last one followed by it:
    system: "Please reason step by step, and put your final answer within \\boxed{}."
    user: question    assistant: "<extra_0>".join(steps) + "<extra_0>"
rendered with `add_generation_prompt=False` and tokenized whole. A step's value is the head's
softmax probability of class 1 (positive) at its "<extra_0>". The card recommends steps
separated by blank lines for Qwen2.5-Math-Instruct's responses; steps here are what the
caller gives. Aggregation: `prod`, the product of step values, which the Qwen PRM paper
(Zhang et al. 2025, "The Lessons of Developing PRMs") uses for its best-of-N results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from ttc.verifiers.kind import Encoded, Positions, StepKind, VerifierError, read_config, tag_positions

ARCHITECTURE = "Qwen2ForProcessRewardModel"


class QwenMathPRM(StepKind):
    name = "qwen2.5-math-prm"
    aggregation = "prod"
    good_column = 1  # the head's classes: 0 negative, 1 positive

    @dataclass(frozen=True)
    class Options:
        step_tag: str = "<extra_0>"
        system: str = "Please reason step by step, and put your final answer within \\boxed{}."

    def check_checkpoint(self) -> None:
        architectures = read_config(self.path).get("architectures") or []
        if ARCHITECTURE not in architectures:
            raise VerifierError(
                f"path: {self.path} holds {architectures or 'no architecture'}; kind {self.name} "
                f"expects {ARCHITECTURE} (a Qwen2 backbone with a two-class step head)"
            )

    def bind(self, tokenizer) -> None:
        super().bind(tokenizer)
        self.tag = self.single_token("step_tag", self.opts.step_tag)
        if not getattr(tokenizer, "chat_template", None):
            raise VerifierError(
                f"path: {self.path}'s tokenizer has no chat template; kind {self.name} renders the model card's chat"
            )

    def text(self, question: str, steps: list[str]) -> str:
        tag = self.opts.step_tag
        messages = [
            {"role": "system", "content": self.opts.system},
            {"role": "user", "content": question},
            {"role": "assistant", "content": tag.join(steps) + tag if steps else ""},
        ]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)

    def encode(self, question: str, steps: list[str]) -> Encoded[Positions]:
        ids = self.tokenizer.encode(self.text(question, steps))
        return ids, tag_positions(ids, self.tag)

    def load_hf(self, dtype, device):
        from transformers import Qwen2Model

        from ttc.verifiers.heads import HeadLogits, read_weights

        class Backbone(Qwen2Model):
            _keys_to_ignore_on_load_unexpected = [r"^score\."]  # the step head's, loaded below

        backbone = Backbone.from_pretrained(self.path, dtype=dtype)
        head = step_head(backbone.config)
        weights = read_weights(self.path, "score.")
        expected = {f"score.{name}" for name in head.state_dict()}
        if set(weights) != expected:
            raise VerifierError(
                f"path: {self.path} has step-head weights {sorted(weights)}; kind {self.name} "
                f"expects {sorted(expected)}"
            )
        head.load_state_dict({name.removeprefix("score."): w for name, w in weights.items()})
        return HeadLogits(backbone, head.to(dtype), good=self.good_column).to(device).eval()

    def vllm_args(self) -> dict[str, Any]:
        return {}  # the checkpoint's architecture is vLLM's own

    def count_parameters(self) -> int:
        import torch
        from transformers import AutoConfig, Qwen2Config, Qwen2Model

        config = cast(Qwen2Config, AutoConfig.from_pretrained(self.path))  # a Qwen2 checkpoint's
        with torch.device("meta"):
            modules = [Qwen2Model(config), step_head(config)]
        return sum(p.numel() for m in modules for p in m.parameters())


def step_head(config):
    """The card's step head, with the weight names of the checkpoint (score.0, score.2)."""
    from torch import nn

    return nn.Sequential(nn.Linear(config.hidden_size, config.hidden_size), nn.ReLU(), nn.Linear(config.hidden_size, 2))
