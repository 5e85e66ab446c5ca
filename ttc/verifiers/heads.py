"""The transformers modules that turn a checkpoint into (good, bad) logits per token.

`LabelLogits`: a causal LM's logits of its good and bad label tokens only, the LM head's two rows
applied to the final hidden states (what vLLM's classify-from-token head computes; the full
vocabulary's logits are never built). `HeadLogits`: a backbone's hidden states through a
two-class step head of the checkpoint's own (qwen_prm.py), the good class first.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModelForCausalLM


class Counted(nn.Module):
    """A module that keeps only part of its checkpoint, and the whole one's parameter count
    (`checkpoint_parameters`, tied weights once): the verifier's size in the ledger."""

    checkpoint_parameters: int


class LabelLogits(Counted):
    def __init__(self, lm, good: int, bad: int):
        super().__init__()
        self.backbone = lm.base_model
        rows = lm.get_output_embeddings().weight[[good, bad]]
        self.rows = nn.Parameter(rows.detach().clone(), requires_grad=False)
        self.checkpoint_parameters = sum(p.numel() for p in lm.parameters())  # the LM's, tied weights once

    @classmethod
    def load(cls, path: str, good: int, bad: int, dtype: torch.dtype, device: torch.device) -> "LabelLogits":
        return cls(AutoModelForCausalLM.from_pretrained(path, dtype=dtype), good, bad).to(device).eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return hidden @ self.rows.T


class HeadLogits(nn.Module):
    def __init__(self, backbone, head: nn.Module, good: int):
        super().__init__()
        self.backbone, self.head, self.order = backbone, head, [good, 1 - good]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(hidden)[..., self.order]


def read_weights(path: str, prefix: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors checkpoint (one file or sharded) whose names start with `prefix`."""
    from safetensors import safe_open

    folder = Path(path)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        files = sorted({file for name, file in weight_map.items() if name.startswith(prefix)})
    else:
        files = ["model.safetensors"]
    weights = {}
    for file in files:
        with safe_open(str(folder / file), framework="pt") as f:
            weights |= {name: f.get_tensor(name) for name in f.keys() if name.startswith(prefix)}
    return weights
