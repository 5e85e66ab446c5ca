"""PRM kinds scored with vLLM's pooling runner: one prefill per solution.

Every kind is served as a token classifier that gives [p(good), p(bad)] (or the head's two
classes) at every token, with ALL token pooling; the step values are read at the positions the
kind's `encode` gives, the same token ids and positions as the transformers scorer (hf_prm.py):
- causal-LM kinds (`prm`, `math-shepherd`, `rlhflow`): `convert="classify"` with `hf_overrides`
  `classifier_from_token=[good, bad]` and `method="no_post_processing"` turn the LM head's two
  label rows into the classifier; the default activation (two labels: a softmax) gives the same
  softmax as transformers and the training loss.
- `qwen2.5-math-prm`: vLLM's own Qwen2ForProcessRewardModel (models/qwen2_rm.py), no remote code.
ALL rather than STEP pooling: RLHFlow's values sit before a reply token, not at a tag, and for
the tag kinds it changes nothing. vLLM's own Math-Shepherd recipe (`returned_token_ids`) is not
used: docs/extending.md says why, with the engine internals it rests on.

Prompts go in as token ids, so every position is where `encode` put it. A solution's prefix
is not run twice (on CPU): requests read vLLM's prefix cache (token_classify skips it by
default), so only the tokens after the cached whole blocks (32 tokens on CPU) are run and come
back; the values at the cached positions were computed by an earlier call (tree search scores a
candidate's parent before it) and are kept here, by prefix, in `memo` (least recently used
first out). A solution with a cached position the memo lost is run again whole. The values are
the same bits either way on CPU (tests/ttc/verifiers/test_vllm_prm.py); on GPU the cached and recomputed
paths may differ in the last bits, so there every solution is run whole. `tokens_scored` counts
every solution's whole prompt, as HFVerifier counts (a figure that does not depend on what was
cached, so on call order), `tokens_computed` the tokens vLLM ran; `num_parameters` is the
checkpoint's, counted as transformers does: the PRM's side of the compute ledger (ttc/search).
vLLM spawns processes: build this under `if __name__ == "__main__":` (see ttc/lm/vllm.py).
"""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from typing import TYPE_CHECKING, Sequence

from data.prompts import PromptFormat
from ttc.lm.config import resolve_dtype
from ttc.verifiers import Aggregation, VerifierBase
from ttc.verifiers.kind import StepKind
from ttc.verifiers.prm import OurPRM

if TYPE_CHECKING:
    from vllm import LLM

MEMO_SIZE = 1 << 18  # values kept by prefix (~50 MB): far more than a search session's candidates


def prefix_key(ids: Sequence[int], position: int) -> bytes:
    """The tokens up to and including `position`, hashed (a value depends on them only)."""
    return hashlib.blake2b(array("q", ids[: position + 1]).tobytes(), digest_size=16).digest()


class VLLMStepScorer(VerifierBase):
    """A PRM kind (kind.StepKind) on vLLM's pooling runner."""

    aggregation: Aggregation

    def __init__(
        self,
        kind: StepKind,
        dtype: str = "auto",
        kv_cache_gib: float = 1.0,
        max_model_len: int | None = None,
        enforce_eager: bool = True,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
    ):
        from transformers import AutoTokenizer

        kind.check_checkpoint()
        self.kind, self.aggregation = kind, kind.default_aggregation(kind.path)
        self.tokenizer = AutoTokenizer.from_pretrained(kind.path)
        kind.bind(self.tokenizer)
        self.forward_passes = 0  # one per solution, as HFVerifier counts
        self.tokens_scored = 0
        self.last_tokens: list[int] = []  # each solution's tokens in the last call
        self.tokens_computed = 0
        self.memo: OrderedDict[bytes, float] = OrderedDict()  # prefix_key -> value
        self.num_parameters = kind.count_parameters()
        from vllm.config import PoolerConfig

        from ttc.lm.vllm import start_engine, vllm_device

        self.llm: LLM | None = start_engine(
            kv_cache_gib,
            model=kind.path,
            runner="pooling",
            pooler_config=PoolerConfig(task="token_classify", tok_pooling_type="ALL", use_activation=True),
            dtype=resolve_dtype(dtype, vllm_device()),  # not vLLM's own auto (the checkpoint's)
            max_model_len=max_model_len,
            enforce_eager=enforce_eager,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            block_size=32 if _on_cpu() else None,  # CPU kernels' smallest: the prefix cache reuses whole blocks
            **kind.vllm_args(),
        )
        from vllm import envs

        # a solution's values do not depend on its batch: on CPU (tests/ttc/verifiers/test_vllm_prm.py), on
        # GPU only in vLLM's batch-invariant mode (VLLM_BATCH_INVARIANT=1)
        self.batch_invariant = _on_cpu() or envs.VLLM_BATCH_INVARIANT
        self.reuse_prefixes = _on_cpu()

    @property
    def engine(self) -> LLM:
        """The running engine (`llm`, None once closed)."""
        if self.llm is None:
            raise RuntimeError("the vLLM engine is closed")
        return self.llm

    @property
    def context_length(self) -> int:
        """The engine's max_model_len (ttc.verifiers.BoundedVerifier)."""
        return self.engine.llm_engine.model_config.max_model_len

    def count_tokens(self, question: str, steps: list[str]) -> int:
        return len(self.kind.encode(question, steps)[0])

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        encoded = self.kind.encode_all(questions, solutions)
        self.last_tokens = [len(ids) for ids, _ in encoded]
        self.forward_passes += len(encoded)
        self.tokens_scored += sum(self.last_tokens)
        values = self._run(encoded, self.reuse_prefixes)
        lost = [i for i, v in enumerate(values) if v is None]
        for i, v in zip(lost, self._run([encoded[i] for i in lost], reuse=False)):
            values[i] = v
        return values  # type: ignore[return-value]

    def _run(self, encoded: list, reuse: bool) -> list[list[float] | None]:
        if not encoded:
            return []
        from vllm import PoolingParams
        from vllm.inputs import TokensPrompt

        outputs = self.engine.encode(
            # vLLM's prompt TypedDicts take typing.NotRequired, unknown to pyright's Python 3.10
            [TokensPrompt(prompt_token_ids=ids) for ids, _ in encoded],  # pyright: ignore[reportCallIssue]
            pooling_task="token_classify",
            use_tqdm=False,
            pooling_params=PoolingParams(skip_reading_prefix_cache=not reuse),
        )
        return [self._read(ids, positions, out.outputs.data, reuse) for (ids, positions), out in zip(encoded, outputs)]

    def _read(self, ids: list[int], positions: list[int], rows, reuse: bool) -> list[float] | None:
        """The values at `positions`; `rows` are the last positions' outputs, those vLLM ran (the
        others it read from its prefix cache, and their values from the memo); None if the memo
        lost one."""
        start = len(ids) - len(rows)
        if start < 0 or (start and not reuse):
            raise RuntimeError(f"vLLM pooled {len(rows)} of a prompt's {len(ids)} tokens")
        self.tokens_computed += len(rows)
        values = []
        for position in positions:
            key = prefix_key(ids, position)
            if position >= start:
                self.memo[key] = float(rows[position - start, self.kind.good_column])
            elif key not in self.memo:
                return None
            self.memo.move_to_end(key)
            values.append(self.memo[key])
        while len(self.memo) > MEMO_SIZE:
            self.memo.popitem(last=False)
        return values

    def forget_prefixes(self) -> None:
        """Drop the cached prefixes and their values: the next calls run cold (for benchmarks)."""
        self.engine.reset_prefix_cache()
        self.memo.clear()

    def close(self) -> None:
        """Stop the engine's processes and free its memory (the scorer is unusable after)."""
        from ttc.lm.vllm import shutdown

        self.llm = shutdown(self.llm)


def _on_cpu() -> bool:
    from ttc.lm.vllm import vllm_device

    return vllm_device() == "cpu"


class VLLMPRM(VLLMStepScorer):
    """Our PRM format (data/prm_format.py), read on the prompt it was trained on."""

    def __init__(
        self,
        path: str,
        dtype: str = "auto",
        kv_cache_gib: float = 1.0,
        max_model_len: int | None = None,
        enforce_eager: bool = True,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
    ):
        kind = OurPRM(path, OurPRM.Options(), PromptFormat())
        super().__init__(
            kind,
            dtype,
            kv_cache_gib,
            max_model_len,
            enforce_eager,
            gpu_memory_utilization,
            tensor_parallel_size,
        )
        self.format, self.prompt = kind.format, kind.prompt
