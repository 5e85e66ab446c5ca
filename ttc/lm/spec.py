"""An LM section (`LMConfig`) and its loader: `load_lm(LMConfig(model=..., backend="hf" | "vllm"))`
returns an `LM`.

A backend's module is imported only when it is asked for, so code that runs on transformers
never imports vLLM (slow to import, and absent from some installs).

Every LM loads through `load_lm`, which refuses a model that cannot be the LM asked for before
any weight is read (`engine_folder` with `lm`: data/models.py check_model; a PRM folder, an
architecture that is not a causal LM or not of its model_type, a cut safetensors file) and, once
loaded, probes it with one forward pass on one token (hf) or one greedy token with its
log-probability (vLLM): weights that give non-finite logits (NaN/Inf) are one ConfigError naming
the folder, not a stage of empty or random samples.

The section itself (`LMConfig`, the engine settings) is ttc/lm/config.py, read by every backend.
"""

from __future__ import annotations

from dataclasses import replace

from data.config import ConfigError
from ttc.lm import LM
from ttc.lm.config import LMConfig, engine_folder

__all__ = ["LMConfig", "load_lm"]


def load_lm(cfg: LMConfig, key: str = "model") -> LM:
    """The LM `cfg` names, checked before and probed after it loads; bad input is one
    ConfigError naming `key` and the folder."""
    cfg = replace(cfg, model=engine_folder(cfg.model, key, lm=True))
    if cfg.backend == "vllm":
        from ttc.lm.vllm import VLLMBackend

        lm = VLLMBackend(cfg)
    else:
        from ttc.lm.hf import HFBackend

        lm = HFBackend(cfg)
    if not lm.finite_logits():
        lm.close()  # the engine's processes and memory, before the error unwinds
        raise ConfigError(
            f"{key}: {cfg.model}: the weights give non-finite logits (NaN/Inf weights?): copy or retrain the model"
        )
    return lm
