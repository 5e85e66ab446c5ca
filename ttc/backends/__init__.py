"""LM backends: `load_lm(LMConfig(model=..., backend="hf" | "vllm"))` returns an `LM`.

A backend's module is imported only when it is asked for, so code that runs on transformers
never imports vLLM (slow to import, and absent from some installs).
"""

from __future__ import annotations

from dataclasses import replace

from ttc.backends.config import DTYPES, MIN_REQUESTS_FOR_PROGRESS, LMConfig, engine_folder
from ttc.lm import LM

__all__ = ["DTYPES", "MIN_REQUESTS_FOR_PROGRESS", "LMConfig", "engine_folder", "load_lm"]


def load_lm(cfg: LMConfig) -> LM:
    cfg = replace(cfg, model=engine_folder(cfg.model))
    if cfg.backend == "vllm":
        from ttc.backends.vllm import VLLMBackend

        return VLLMBackend(cfg)
    from ttc.backends.hf import HFBackend

    return HFBackend(cfg)
