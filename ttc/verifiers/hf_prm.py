"""Our PRM format (data/prm_format.py) scored with transformers: one forward per solution.

Solutions are batched (right-padded, so tag positions stay where `encode` put them) and every
step's value is read from the same forward pass: softmax over (good, bad) at each tag.
`tokens_scored` counts the tokens of the solutions run forward (padding not counted): the PRM's
side of the compute ledger (ttc/search). `HFScorer`, the batched forward pass and its ledger, is
shared with the likelihood verifier (ttc/verifiers/likelihood.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence
from transformers import AutoModelForCausalLM, AutoTokenizer

from data.prm_format import PRMFormat
from data.prompts import PromptFormat

Encoded = tuple[list[int], Any]  # a solution's token ids, and what `read` needs to value its steps


class HFScorer(ABC):
    """A causal LM run forward over batches of solutions, one pass per solution; subclasses say
    how a solution is encoded (`encode`) and how its step values are read off the logits (`read`)."""

    def __init__(self, path: str, prompt: PromptFormat, batch_size: int, threads: int, device: str, dtype: str):
        torch.set_num_threads(threads)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device).eval()
        self.prompt, self.batch_size, self.device = prompt, batch_size, device
        self.forward_passes = 0  # one per solution: what bench/prm_scoring.py checks
        self.tokens_scored = 0

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())  # tied weights counted once

    @abstractmethod
    def encode(self, prompt: str, steps: list[str]) -> Encoded: ...

    @abstractmethod
    def read(self, logits: torch.Tensor, batch: list[Encoded]) -> list[list[float]]: ...

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        encoded = [self.encode(self.prompt.render(q, self.tokenizer), steps)
                   for q, steps in zip(questions, solutions, strict=True)]
        values: list[list[float]] = []
        for start in range(0, len(encoded), self.batch_size):
            batch = encoded[start : start + self.batch_size]
            values += self.read(self.forward([ids for ids, _ in batch]), batch)
        return values

    @torch.inference_mode()
    def forward(self, sequences: list[list[int]]) -> torch.Tensor:
        """Logits of right-padded `sequences` in one forward pass, counted in the ledger."""
        ids = pad_sequence([torch.tensor(i) for i in sequences], batch_first=True,
                           padding_value=self.tokenizer.pad_token_id)
        mask = pad_sequence([torch.ones(len(i), dtype=torch.long) for i in sequences], batch_first=True)
        self.forward_passes += len(sequences)
        self.tokens_scored += sum(len(i) for i in sequences)
        return self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits


class HFPRM(HFScorer):
    def __init__(self, path: str, prompt: PromptFormat = PromptFormat(), batch_size: int = 16,
                 threads: int = 1, device: str = "cpu", dtype: str = "float32"):
        self.format = PRMFormat.load(path)
        super().__init__(path, prompt, batch_size, threads, device, dtype)
        _, self.good, self.bad = self.format.token_ids(self.tokenizer, where=path)

    def encode(self, prompt: str, steps: list[str]) -> Encoded:
        return self.format.encode(self.tokenizer, prompt, steps)

    def read(self, logits: torch.Tensor, batch: list[Encoded]) -> list[list[float]]:
        pair = logits[..., [self.good, self.bad]].float().softmax(-1)[..., 0].cpu()
        return [pair[row, positions].tolist() for row, (_, positions) in enumerate(batch)]
