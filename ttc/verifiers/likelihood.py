"""Kind `likelihood`: a training-free verifier, the LM's own likelihood of a solution.

A step's value is exp(mean log-prob) of the solution's tokens up to the end of that step under
a causal LM (usually the policy itself), so `last` scores the whole solution. The mean, not the
sum, so that a longer solution is not penalised for its length alone. A solution is read as the
policy wrote it: its prompt, then the steps joined by newlines tokenized whole (step by step
would differ: Qwen2's BPE writes "$.\\n" as "$", ".\\n"); a step ends at the first token that
reaches its last character. One forward pass per solution, on transformers only (vLLM's pooling
runner returns no vocabulary log-probs per token).

It is the baseline a trained PRM has to beat: eval/prm.py reports it beside the PRM (best-of-N
weighted, and naive: the most likely solution wins), and `VerifierConfig(kind="likelihood")`
lets search use it as its verifier.
"""

from __future__ import annotations

from ttc.verifiers.kind import Encoded, Kind, Span


class Likelihood(Kind[Span]):
    name = "likelihood"
    aggregation = "last"
    backends = ("hf",)

    def encode(self, question: str, steps: list[str]) -> Encoded[Span]:
        prompt_ids = self.tokenizer(self.prompt.render(question, self.tokenizer))["input_ids"]
        encoding = self.tokenizer("\n".join(steps), add_special_tokens=False, return_offsets_mapping=True)
        token_ends = [end for _, end in encoding["offset_mapping"]]
        ends, char_end = [], 0
        for step in steps:
            char_end += len(step)
            ends.append(len(prompt_ids) + next(i + 1 for i, end in enumerate(token_ends) if end >= char_end))
            char_end += 1  # the newline
        return prompt_ids + encoding["input_ids"], Span(len(prompt_ids), ends)

    def load_hf(self, dtype, device):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(self.path, dtype=dtype).to(device).eval()

    def read(self, outputs, batch: list[Encoded[Span]]) -> list[list[float]]:
        import torch

        values = []
        for row, (ids, (start, ends)) in enumerate(batch):
            if not ends:
                values.append([])
                continue
            # logits at position i predict token i + 1
            predicted = outputs.logits[row, start - 1 : ends[-1] - 1].float().log_softmax(-1)
            targets = torch.tensor(ids[start : ends[-1]], device=predicted.device)
            token_logp = predicted.gather(-1, targets[:, None])[:, 0]
            running_mean = token_logp.cumsum(0) / torch.arange(1, len(token_logp) + 1, device=predicted.device)
            values.append(running_mean[[end - start - 1 for end in ends]].exp().cpu().tolist())
        return values
