"""A training-free verifier: the LM's own likelihood of a solution.

A step's value is exp(mean log-prob) of the solution's tokens up to the end of that step under
a causal LM (usually the policy itself), so `last` scores the whole solution. The mean, not the
sum, so that a longer solution is not penalised for its length alone. Solutions are encoded as
the policy wrote them (steps separated by newlines, no tags), one forward pass per solution.

It is the baseline a trained PRM has to beat: eval/prm.py reports it beside the PRM (best-of-N
weighted, and naive: the most likely solution wins), and `PRMConfig(kind="likelihood")` lets
search use it as its verifier.
"""

from __future__ import annotations

import torch

from data.prm_format import encode_steps
from data.prompts import PromptFormat
from ttc.verifiers.hf_prm import Encoded, HFScorer


class LikelihoodVerifier(HFScorer):
    def __init__(self, path: str, prompt: PromptFormat = PromptFormat(), batch_size: int = 16,
                 threads: int = 1, device: str = "cpu", dtype: str = "float32"):
        super().__init__(path, prompt, batch_size, threads, device, dtype)
        self.newline = self.tokenizer.encode("\n", add_special_tokens=False)

    def encode(self, prompt: str, steps: list[str]) -> Encoded:
        prompt_ids = self.tokenizer(prompt)["input_ids"]
        ids, ends = encode_steps(self.tokenizer, prompt_ids, steps, self.newline)
        return ids, (len(prompt_ids), ends)

    def read(self, logits: torch.Tensor, batch: list[Encoded]) -> list[list[float]]:
        values = []
        for row, (ids, (start, ends)) in enumerate(batch):
            if not ends:
                values.append([])
                continue
            # logits at position i predict token i + 1
            predicted = logits[row, start - 1 : ends[-1] - 1].float().log_softmax(-1)
            token_logp = predicted.gather(-1, torch.tensor(ids[start : ends[-1]], device=predicted.device)[:, None])[:, 0]
            running_mean = token_logp.cumsum(0) / torch.arange(1, len(token_logp) + 1, device=predicted.device)
            values.append(running_mean[[end - start - 1 for end in ends]].exp().cpu().tolist())
        return values
