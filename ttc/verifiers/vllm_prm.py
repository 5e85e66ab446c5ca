"""Our PRM format (data/prm_format.py) scored with vLLM's pooling runner: one prefill per solution.

vLLM (0.32) serves a causal-LM checkpoint as a step reward model this way:
- `convert="classify"` with `hf_overrides` `classifier_from_token=[good, bad]` and
  `method="no_post_processing"` loads the checkpoint as a token classifier whose head is the
  LM head's good and bad rows (models/adapters.py, `load_weights_no_post_processing`);
- STEP token pooling with `step_tag_id` keeps the final hidden states at the tag tokens, the
  head turns them into the (good, bad) logits, and the default activation (two labels: a
  softmax) gives [p(good), p(bad)] per tag: the same softmax as `HFPRM` and the training loss.

`returned_token_ids`, the Math-Shepherd recipe's other half, is NOT used: in vLLM 0.32 the STEP
pooler applies it to the hidden states before the head (pooler/tokwise/methods.py, `StepPool`:
`data[:, returned_token_ids]`), so it picks hidden dimensions, not vocabulary logits: with
`convert="embed"` it silently returns two normalized hidden features; with `convert="classify"`
the head then fails on the narrowed input ("shape '[-1, 64]' is invalid for input of size 6").

Prompts go in as token ids from `PRMFormat.encode`, so the tags sit where training put them.
`tokens_scored` counts them (every solution's whole prefill, as HFPRM counts) and
`num_parameters` is the checkpoint's, counted as transformers does: the PRM's side of the
compute ledger (ttc/search).
vLLM spawns processes: build this under `if __name__ == "__main__":` (see ttc/backends/vllm.py).
"""

from __future__ import annotations

import math
import os
from typing import Sequence

from transformers import AutoTokenizer

from data.prm_format import PRMFormat
from data.prompts import PromptFormat
from ttc.backends.vllm import count_parameters


class VLLMPRM:
    def __init__(self, path: str, prompt: PromptFormat = PromptFormat(), dtype: str = "float32",
                 kv_cache_gib: float = 1.0, max_model_len: int | None = None, enforce_eager: bool = True,
                 gpu_memory_utilization: float = 0.9, tensor_parallel_size: int = 1):
        self.format = PRMFormat.load(path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tag, good, bad = self.format.token_ids(self.tokenizer, where=path)
        self.prompt = prompt
        self.forward_passes = 0  # one per solution, as HFPRM counts
        self.tokens_scored = 0
        self.num_parameters = count_parameters(path)
        # vLLM looks the label tokens up by their vocabulary strings, not by the text that encodes
        # to them (" +" is "Ġ+" in a byte-level vocabulary).
        labels = self.tokenizer.convert_ids_to_tokens([good, bad])
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(math.ceil(kv_cache_gib))  # read at engine start
        from vllm import LLM
        from vllm.config import PoolerConfig

        self.llm = LLM(
            model=path,
            runner="pooling",
            convert="classify",
            hf_overrides={"classifier_from_token": labels, "method": "no_post_processing"},
            pooler_config=PoolerConfig(task="token_classify", tok_pooling_type="STEP",
                                       step_tag_id=self.tag, use_activation=True),
            dtype=dtype,
            max_model_len=max_model_len,
            enforce_eager=enforce_eager,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            seed=0,
        )

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        encoded = [
            self.format.encode(self.tokenizer, self.prompt.render(q, self.tokenizer), steps)
            for q, steps in zip(questions, solutions, strict=True)
        ]
        for number, (ids, positions) in enumerate(encoded):
            # vLLM pools at every tag token, so a tag inside the text would shift the values.
            if ids.count(self.tag) != len(positions):
                raise ValueError(f"solution {number}: its text contains the step tag {self.format.step_tag!r}")
        if not encoded:
            return []
        from vllm.inputs import TokensPrompt

        outputs = self.llm.encode([TokensPrompt(prompt_token_ids=ids) for ids, _ in encoded],
                                  pooling_task="token_classify", use_tqdm=False)
        self.forward_passes += len(encoded)
        self.tokens_scored += sum(len(ids) for ids, _ in encoded)
        return [out.outputs.data[:, 0].tolist() for out in outputs]  # columns: p(good), p(bad)

    def close(self) -> None:
        """Stop the engine's processes and free its memory (the scorer is unusable after)."""
        from ttc.backends.vllm import shutdown

        self.llm = shutdown(self.llm)
