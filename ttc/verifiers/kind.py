"""What a verifier kind is: one checkpoint family's published input format and how its scores are read.

A kind says how (question, steps) becomes the token ids its model card feeds the model
(`encode`), which module transformers runs (`load_hf`), and how the step values are read off its
outputs (`read`). The scorers (hf_prm.py, vllm_prm.py) do the rest the same way for every kind,
one forward pass per solution; the loader (spec.py) picks the scorer for the backend.

What `encode` gives beside the token ids is typed by the kind (`Encoded[K]`). A PRM kind
(`StepKind`) encodes the positions whose output values each step (`Positions`), and its checkpoint
gives a (good, bad) pair of logits there: a causal LM's logits of two label tokens
(`LabelTokenKind`), or a classification head of its own (qwen_prm.py). A step's value is
softmax(good, bad)[good] at its position, on transformers and on vLLM alike. The likelihood
baseline encodes a `Span`: where the solution starts and each step ends (likelihood.py).

`Options` are the kind's input-format settings (`VerifierConfig.format`); their defaults are the
model card's. `aggregation` is the card's way of turning step values into one score, for stages
where the user sets none. Kind modules import no torch at import time: a config names a kind
without loading anything, and only the scorer that runs pulls in transformers or vLLM.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, Sequence, TypeVar

from data.config import ConfigError
from data.models import read_model_config
from data.prompts import PromptFormat
from ttc.lm import count_parameters
from ttc.verifiers import Aggregation

if TYPE_CHECKING:
    import torch

K = TypeVar("K")  # what a kind's `read` needs, beside the token ids, to value a solution's steps
Positions = list[int]  # a PRM kind's: where each step's (good, bad) logits are read


class Span(NamedTuple):
    """The likelihood's: where the solution's tokens start, and where each step's end."""

    start: int
    ends: list[int]


Encoded = tuple[list[int], K]  # a solution's token ids and its K: Encoded[Positions], Encoded[Span]


class VerifierError(ConfigError):
    """A verifier setting that cannot work; the message names the setting and what was expected."""


class Kind(ABC, Generic[K]):
    """A verifier kind: its input-format options, default aggregation and backends; `encode`
    gives the token ids with what `read` needs (K)."""

    name: ClassVar[str]
    aggregation: ClassVar[Aggregation]  # the card's
    backends: ClassVar[tuple[str, ...]] = ("hf", "vllm")

    @dataclass(frozen=True)
    class Options:
        pass

    @classmethod
    def default_aggregation(cls, folder: str) -> Aggregation:
        """The aggregation of the checkpoint in `folder` where a stage sets none: the card's."""
        return cls.aggregation

    @classmethod
    def options(cls, overrides: dict[str, Any]) -> Any:
        """`Options` with the config's `format` overrides, unknown keys and non-strings refused."""
        known = {f.name for f in fields(cls.Options)}
        for key, value in overrides.items():
            if key not in known:
                raise VerifierError(
                    f"format.{key}: not an input-format option of kind {cls.name} "
                    f"(known: {', '.join(sorted(known)) or 'none'})"
                )
            if not isinstance(value, str):
                raise VerifierError(f"format.{key}: expected a string, got {value!r}")
        return cls.Options(**overrides)

    def __init__(self, path: str, options: Any, prompt: PromptFormat):
        self.path, self.opts, self.prompt = path, options, prompt

    def check_checkpoint(self) -> None:
        """One clear error before any weight is read if the checkpoint is not of this kind."""
        architectures = read_config(self.path).get("architectures") or []
        if not any(a.endswith("ForCausalLM") for a in architectures):
            raise VerifierError(
                f"path: {self.path} holds {architectures or 'no architecture'}; kind {self.name} "
                "expects a causal LM checkpoint (architectures: *ForCausalLM)"
            )

    def bind(self, tokenizer) -> None:
        """Looks up the kind's tokens in the checkpoint's tokenizer (errors if it lacks them)."""
        self.tokenizer = tokenizer

    def single_token(self, setting: str, text: str) -> int:
        """The id `text` encodes to, which must be exactly one token of the checkpoint's tokenizer."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1 or ids[0] == self.tokenizer.unk_token_id:
            raise VerifierError(
                f"format.{setting}: {text!r} is not one token of {self.path}'s tokenizer "
                f"(it encodes to {ids}); kind {self.name} needs its checkpoint's own tokenizer"
            )
        return ids[0]

    @abstractmethod
    def encode(self, question: str, steps: list[str]) -> Encoded[K]: ...

    def encode_all(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[Encoded[K]]:
        return [self.encode(q, steps) for q, steps in zip(questions, solutions, strict=True)]

    @abstractmethod
    def load_hf(self, dtype, device) -> torch.nn.Module:
        """The transformers module that `read` reads, called with (input_ids, attention_mask)."""

    @abstractmethod
    def read(self, outputs, batch: list[Encoded[K]]) -> list[list[float]]:
        """Each solution's step values from the outputs of one padded batch."""


class StepKind(Kind[Positions]):
    """A PRM kind: `encode` gives the positions whose (good, bad) logits value each step."""

    good_column: ClassVar[int] = 0  # vLLM's per-token probabilities: the column of p(good)

    def encode_all(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[Encoded[Positions]]:
        encoded = super().encode_all(questions, solutions)
        for number, ((_, positions), steps) in enumerate(zip(encoded, solutions)):
            if len(positions) != len(steps):
                raise ValueError(
                    f"solution {number}: {len(steps)} steps but {len(positions)} places to score them "
                    f"(kind {self.name}: does a step's text contain the format's step tag?)"
                )
        return encoded

    def read(self, outputs, batch: list[Encoded[Positions]]) -> list[list[float]]:
        good = outputs.float().softmax(-1)[..., 0].cpu()  # the modules put the good logit first
        return [good[row, positions].tolist() for row, (_, positions) in enumerate(batch)]

    @abstractmethod
    def vllm_args(self) -> dict[str, Any]:
        """LLM(...) arguments that make vLLM's token-classify pooler give both classes' probabilities per token."""

    def count_parameters(self) -> int:
        """The checkpoint's parameters, counted as transformers does, without loading weights."""
        return count_parameters(self.path)


class LabelTokenKind(StepKind):
    """A causal-LM PRM: at a step's position it predicts a good or a bad label token. transformers
    reads the LM head's two label rows (heads.LabelLogits); vLLM serves the same two rows as a
    token-classification head (`classifier_from_token`; docs/extending.md)."""

    @abstractmethod
    def label_ids(self) -> tuple[int, int]:
        """(good, bad): the label tokens' ids in the checkpoint's tokenizer."""

    def bind(self, tokenizer) -> None:
        super().bind(tokenizer)
        self.good, self.bad = self.label_ids()

    def load_hf(self, dtype, device):
        from ttc.verifiers.heads import LabelLogits

        return LabelLogits.load(self.path, self.good, self.bad, dtype, device)

    def vllm_args(self) -> dict[str, Any]:
        # vLLM looks the labels up by their vocabulary strings, not by the text that encodes to them
        labels = self.tokenizer.convert_ids_to_tokens([self.good, self.bad])
        return {
            "convert": "classify",
            "hf_overrides": {"classifier_from_token": labels, "method": "no_post_processing"},
        }


def read_config(path: str) -> dict[str, Any]:
    """The checkpoint's config.json (data/models.py, as `check_model` read it), named as the verifier's `path`."""
    return read_model_config(path, "path")


def tag_positions(ids: list[int], tag: int) -> list[int]:
    return [i for i, t in enumerate(ids) if t == tag]
