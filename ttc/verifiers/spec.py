"""One verifier spec for every stage that scores: `load_verifier(VerifierConfig(...), prompt)`.

    prm:                              # a stage's verifier section (YAML)
      kind: qwen2.5-math-prm          # a key of KINDS
      path: Qwen/Qwen2.5-Math-PRM-7B  # a save_pretrained folder, or a hub id already in the HF cache
      backend: vllm                   # hf | vllm
      format: {}                      # the kind's input-format options (defaults: its model card's)

`KINDS` maps a kind to its class (one module each): its input format, its default aggregation
(`KINDS[kind].aggregation`, also the loaded verifier's `.aggregation`) and its backends. Adding
a kind is one module plus one entry. A hub id is resolved offline, through the usual Hugging
Face cache (HF_HOME / HF_HUB_CACHE): nothing is downloaded at run time, and an id that is not
cached is one error naming `path`. Every bad setting is a `VerifierError`, a `ConfigError`
that the `ttc` command prints as one line, raised before any weight is read.

`prompt` (the policy's prompt format) is read only by the likelihood baseline, the policy's own
likelihood of what it wrote under that prompt. A PRM reads the input it was trained on, whatever
prompt sampled the solution: ours the prompt recorded in its prm_format.json (train/prm.py), a
public one its model card's format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from data.config import ConfigError
from data.prompts import PromptFormat
from ttc.lm.config import EngineSection, engine_folder
from ttc.verifiers import Aggregation, Verifier
from ttc.verifiers.kind import Kind, StepKind, VerifierError
from ttc.verifiers.likelihood import Likelihood
from ttc.verifiers.math_shepherd import MathShepherd
from ttc.verifiers.prm import OurPRM
from ttc.verifiers.qwen_prm import QwenMathPRM
from ttc.verifiers.rlhflow import RLHFlow

KINDS: dict[str, type[Kind]] = {
    "prm": OurPRM,  # ours (train/prm.py): prm_format.json beside the checkpoint
    "likelihood": Likelihood,  # the training-free baseline: a causal LM's own likelihood
    "math-shepherd": MathShepherd,  # peiyi9979/math-shepherd-mistral-7b-prm
    "rlhflow": RLHFlow,  # RLHFlow/Llama3.1-8B-PRM-{Mistral,Deepseek}-Data
    "qwen2.5-math-prm": QwenMathPRM,  # Qwen/Qwen2.5-Math-PRM-{7B,72B}
}


@dataclass
class VerifierConfig(EngineSection):
    """A stage's verifier section. The engine settings it shares with an LM section (dtype,
    device, threads, max_model_len, kv_cache_gib, gpu_memory_utilization) mean the same and are
    checked the same way (ttc/lm/config.py `EngineSection`; dtype auto: bfloat16 on CUDA,
    float32 elsewhere); its defaults are its own."""

    path: str  # a save_pretrained folder, or a hub id already in the Hugging Face cache
    kind: str = "prm"  # a key of KINDS
    backend: Literal["hf", "vllm"] = "hf"
    device: str = "auto"  # hf: auto (cuda if there is one, else cpu), cpu, cuda, cuda:N; vLLM picks its own
    dtype: str = "auto"  # auto: bfloat16 on a GPU, float32 on a CPU; or float32, bfloat16, float16
    format: dict[str, str] = field(default_factory=dict)  # the kind's input-format options over its card's
    batch_size: int = 64  # hf: solutions per forward pass
    threads: int = 1  # hf: torch CPU threads
    kv_cache_gib: float = 1.0  # vllm on CPU
    max_model_len: int | None = None  # vllm: None takes the model's
    gpu_memory_utilization: float = 0.3  # vllm on GPU: the share of GPU memory this engine takes

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise VerifierError(f"kind: unknown verifier kind {self.kind!r} (known: {', '.join(KINDS)})")
        kind = KINDS[self.kind]
        if self.backend not in kind.backends:
            raise VerifierError(
                f"backend: kind {self.kind} runs on the {' or '.join(kind.backends)} backend, got {self.backend!r}"
            )
        kind.options(self.format)  # validates the keys
        self.check_engine(VerifierError)
        if self.batch_size < 1:
            raise VerifierError(f"batch_size must be >= 1, got {self.batch_size}")


def load_verifier(cfg: VerifierConfig, prompt: PromptFormat) -> Verifier:
    """The verifier `cfg` names, with `.aggregation` (its kind's default) and the ledger's
    `tokens_scored` and `num_parameters`; `prompt` is the policy's, read by `likelihood` alone."""
    cls = KINDS[cfg.kind]
    kind = cls(resolve_path(cfg.path, cfg.kind == "likelihood"), cls.options(cfg.format), prompt)
    if cfg.backend == "vllm":  # a StepKind: VerifierConfig checked the kind's backends
        from ttc.verifiers.vllm_prm import VLLMStepScorer

        return VLLMStepScorer(
            cast(StepKind, kind),
            cfg.dtype,
            cfg.kv_cache_gib,
            cfg.max_model_len,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
        )
    from ttc.verifiers.hf_prm import HFVerifier

    return HFVerifier(kind, cfg.batch_size, cfg.threads, cfg.device, cfg.dtype)


def default_aggregation(cfg: VerifierConfig) -> Aggregation:
    """The aggregation of the verifier `cfg` names where a stage sets none (its checkpoint must exist)."""
    return KINDS[cfg.kind].default_aggregation(resolve_path(cfg.path, cfg.kind == "likelihood"))


def resolve_path(path: str, lm: bool = False) -> str:
    """The folder an engine reads for the checkpoint `path` (ttc/lm/config.py engine_folder: a local
    folder or a cached hub id's snapshot, never the id; the process set offline; with `lm`, the
    likelihood baseline's, a causal LM and no PRM folder)."""
    try:
        return engine_folder(path, "path", lm)
    except ConfigError as e:
        raise VerifierError(str(e)) from e
