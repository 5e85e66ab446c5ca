"""Our PRM format (data/prm_format.py) scored with transformers: one forward per solution.

Solutions are batched (right-padded, so tag positions stay where `encode` put them) and every
step's value is read from the same forward pass: softmax over (good, bad) at each tag.
`tokens_scored` counts the tokens of the solutions run forward (padding not counted): the PRM's
side of the compute ledger (ttc/search).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence
from transformers import AutoModelForCausalLM, AutoTokenizer

from data.prm_format import PRMFormat
from data.prompts import PromptFormat


class HFPRM:
    def __init__(self, path: str, prompt: PromptFormat = PromptFormat(), batch_size: int = 16,
                 threads: int = 1, device: str = "cpu", dtype: str = "float32"):
        torch.set_num_threads(threads)
        self.format = PRMFormat.load(path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        _, self.good, self.bad = self.format.token_ids(self.tokenizer, where=path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device).eval()
        self.prompt, self.batch_size, self.device = prompt, batch_size, device
        self.forward_passes = 0  # one per solution: what bench/prm_scoring.py checks
        self.tokens_scored = 0

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())  # tied weights counted once

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        encoded = [
            self.format.encode(self.tokenizer, self.prompt.render(q, self.tokenizer), steps)
            for q, steps in zip(questions, solutions, strict=True)
        ]
        values: list[list[float]] = []
        for start in range(0, len(encoded), self.batch_size):
            values += self._score_batch(encoded[start : start + self.batch_size])
        return values

    @torch.inference_mode()
    def _score_batch(self, batch: list[tuple[list[int], list[int]]]) -> list[list[float]]:
        ids = pad_sequence([torch.tensor(i) for i, _ in batch], batch_first=True,
                           padding_value=self.tokenizer.pad_token_id)
        mask = pad_sequence([torch.ones(len(i), dtype=torch.long) for i, _ in batch], batch_first=True)
        logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
        self.forward_passes += len(batch)
        self.tokens_scored += sum(len(i) for i, _ in batch)
        pair = logits[..., [self.good, self.bad]].float().softmax(-1)[..., 0].cpu()
        return [pair[row, positions].tolist() for row, (_, positions) in enumerate(batch)]
