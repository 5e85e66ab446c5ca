"""PRM kinds scored with vLLM's pooling runner: one prefill per solution.

Every kind is served as a token classifier that gives [p(good), p(bad)] (or the head's two
classes) at every token, with ALL token pooling; the step values are read at the positions the
kind's `encode` gives, the same token ids and positions as the transformers scorer (hf_prm.py):
- causal-LM kinds (`prm`, `math-shepherd`, `rlhflow`): `convert="classify"` with `hf_overrides`
  `classifier_from_token=[good, bad]` and `method="no_post_processing"` turn the LM head's two
  label rows into the classifier (models/adapters.py in vLLM 0.32); the default activation (two
  labels: a softmax) gives the same softmax as transformers and the training loss.
- `qwen2.5-math-prm`: vLLM's own Qwen2ForProcessRewardModel (models/qwen2_rm.py), no remote code.
ALL rather than STEP pooling: RLHFlow's values sit before a reply token, not at a tag, and for
the tag kinds it changes nothing. `returned_token_ids`, the Math-Shepherd recipe in vLLM's docs,
is NOT used: in vLLM 0.32 the STEP pooler applies it to the hidden states before the head
(pooler/tokwise/methods.py, `StepPool`), so it picks hidden dimensions, not vocabulary logits.

Prompts go in as token ids, so every position is where `encode` put it; token_classify requests
skip reading the prefix cache (vLLM's pooling_params.py), so every token's output comes back. `tokens_scored` counts
them (every solution's whole prefill, as HFVerifier counts) and `num_parameters` is the
checkpoint's, counted as transformers does: the PRM's side of the compute ledger (ttc/search).
vLLM spawns processes: build this under `if __name__ == "__main__":` (see ttc/backends/vllm.py).
"""

from __future__ import annotations

import math
import os
from typing import Sequence

from data.prompts import PromptFormat
from ttc.verifiers.kind import StepKind
from ttc.verifiers.prm import OurPRM


def vllm_dtype(dtype: str) -> str:
    """"auto": bfloat16 on a GPU, float32 on a CPU (vLLM's own "auto" takes the checkpoint's)."""
    if dtype != "auto":
        return dtype
    import torch

    return "bfloat16" if torch.cuda.is_available() else "float32"


class VLLMStepScorer:
    """A PRM kind (kind.StepKind) on vLLM's pooling runner."""

    def __init__(self, kind: StepKind, dtype: str = "auto", kv_cache_gib: float = 1.0, max_model_len: int | None = None,
                 enforce_eager: bool = True, gpu_memory_utilization: float = 0.9, tensor_parallel_size: int = 1):
        from transformers import AutoTokenizer

        kind.check_checkpoint()
        self.kind, self.aggregation = kind, kind.aggregation
        self.tokenizer = AutoTokenizer.from_pretrained(kind.path)
        kind.bind(self.tokenizer)
        self.forward_passes = 0  # one per solution, as HFVerifier counts
        self.tokens_scored = 0
        self.last_tokens: list[int] = []  # each solution's tokens in the last call
        self.num_parameters = kind.count_parameters()
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(math.ceil(kv_cache_gib))  # read at engine start
        from vllm import LLM
        from vllm.config import PoolerConfig

        self.llm = LLM(
            model=kind.path,
            runner="pooling",
            pooler_config=PoolerConfig(task="token_classify", tok_pooling_type="ALL", use_activation=True),
            dtype=vllm_dtype(dtype),
            max_model_len=max_model_len,
            enforce_eager=enforce_eager,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            seed=0,
            **kind.vllm_args(),
        )
        from vllm import envs
        from vllm.platforms import current_platform

        # a solution's values do not depend on its batch: on CPU (tests/ttc/test_vllm_prm.py), on
        # GPU only in vLLM's batch-invariant mode (VLLM_BATCH_INVARIANT=1)
        self.batch_invariant = current_platform.is_cpu() or envs.VLLM_BATCH_INVARIANT

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        encoded = self.kind.encode_all(questions, solutions)
        self.last_tokens = [len(ids) for ids, _ in encoded]
        if not encoded:
            return []
        from vllm.inputs import TokensPrompt

        outputs = self.llm.encode([TokensPrompt(prompt_token_ids=ids) for ids, _ in encoded],
                                  pooling_task="token_classify", use_tqdm=False)
        self.forward_passes += len(encoded)
        self.tokens_scored += sum(self.last_tokens)
        values = []
        for out, (ids, positions) in zip(outputs, encoded):
            if len(out.outputs.data) != len(ids):  # vLLM skips its prefix cache for token_classify
                raise RuntimeError(f"vLLM pooled {len(out.outputs.data)} of a prompt's {len(ids)} tokens")
            values.append(out.outputs.data[positions, self.kind.good_column].tolist())
        return values

    def close(self) -> None:
        """Stop the engine's processes and free its memory (the scorer is unusable after)."""
        from ttc.backends.vllm import shutdown

        self.llm = shutdown(self.llm)


class VLLMPRM(VLLMStepScorer):
    """Our PRM format (data/prm_format.py) read with `prompt`, the policy's prompt format."""

    def __init__(self, path: str, prompt: PromptFormat = PromptFormat(), dtype: str = "auto",
                 kv_cache_gib: float = 1.0, max_model_len: int | None = None, enforce_eager: bool = True,
                 gpu_memory_utilization: float = 0.9, tensor_parallel_size: int = 1):
        super().__init__(OurPRM(path, OurPRM.Options(), prompt), dtype, kv_cache_gib, max_model_len,
                         enforce_eager, gpu_memory_utilization, tensor_parallel_size)
        self.format, self.prompt = self.kind.format, prompt
