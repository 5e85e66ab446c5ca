"""Every verifier kind on transformers: one forward pass per solution, batched.

Solutions are right-padded, so the positions a kind's `encode` gives stay where they are, and
every step's value is read off the same forward pass by the kind's `read` (for a PRM:
softmax(good, bad)[good] at each step's position). `tokens_scored` counts the tokens run forward
(padding not counted): the verifier's side of the compute ledger (ttc/search). `HFPRM` is our
own format (prm_format.json beside the checkpoint, its training prompt included) under the name
its callers use.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence
from transformers import AutoTokenizer

from data.prompts import PromptFormat
from ttc.lm.hf import resolve_device, torch_dtype
from ttc.verifiers import Aggregation, VerifierBase
from ttc.verifiers.heads import Counted
from ttc.verifiers.kind import Kind, read_config
from ttc.verifiers.prm import OurPRM


class HFVerifier(VerifierBase):
    """A kind's checkpoint on transformers: `score` encodes, batches, runs forward and reads."""

    batch_invariant = False  # a solution's values move in the last bits with its batch's padding
    aggregation: Aggregation

    def __init__(self, kind: Kind, batch_size: int = 16, threads: int = 1, device: str = "auto", dtype: str = "auto"):
        kind.check_checkpoint()
        torch.set_num_threads(threads)
        self.kind, self.aggregation, self.batch_size = kind, kind.default_aggregation(kind.path), batch_size
        self.device = resolve_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(kind.path)
        kind.bind(self.tokenizer)
        self.model = kind.load_hf(torch_dtype(dtype, self.device), self.device)
        self.forward_passes = 0  # one per solution: what bench/prm_scoring.py checks
        self.tokens_scored = 0
        self.last_tokens: list[int] = []  # each solution's tokens in the last call

    @property
    def num_parameters(self) -> int:
        """The checkpoint's parameters (tied weights once), also where the module keeps only part."""
        if isinstance(self.model, Counted):
            return self.model.checkpoint_parameters
        return sum(p.numel() for p in self.model.parameters())

    @functools.cached_property
    def context_length(self) -> int:
        """The checkpoint's max_position_embeddings (ttc.verifiers.BoundedVerifier), read once."""
        return read_config(self.kind.path)["max_position_embeddings"]

    def count_tokens(self, question: str, steps: list[str]) -> int:
        return len(self.kind.encode(question, steps)[0])

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        encoded = self.kind.encode_all(questions, solutions)
        self.last_tokens = [len(ids) for ids, _ in encoded]
        values: list[list[float]] = []
        for start in range(0, len(encoded), self.batch_size):
            batch = encoded[start : start + self.batch_size]
            values += self.kind.read(self.forward([ids for ids, _ in batch]), batch)
        return values

    @torch.inference_mode()
    def forward(self, sequences: list[list[int]]) -> Any:
        """The model's outputs on right-padded `sequences`, one forward pass, counted in the ledger."""
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = pad_sequence([torch.tensor(i) for i in sequences], batch_first=True, padding_value=pad)
        mask = pad_sequence([torch.ones(len(i), dtype=torch.long) for i in sequences], batch_first=True)
        self.forward_passes += len(sequences)
        self.tokens_scored += sum(len(i) for i in sequences)
        return self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))


class HFPRM(HFVerifier):
    """Our PRM format (data/prm_format.py), read on the prompt it was trained on."""

    def __init__(self, path: str, batch_size: int = 16, threads: int = 1, device: str = "auto", dtype: str = "auto"):
        kind = OurPRM(path, OurPRM.Options(), PromptFormat())
        super().__init__(kind, batch_size, threads, device, dtype)
        self.format, self.prompt = kind.format, kind.prompt
