"""The `LM` protocol: batches of generation requests in, completions out, compute recorded.

Strategies only see this protocol, never a backend. A request asks for `n` samples of one
prompt; the samples share the prompt (and its KV cache on backends that can share it).

`StreamingLM` is the same LM taking requests while it generates: `submit` hands requests to the
engine and returns at once; `collect` returns the requests that have finished since. A search
that advances each problem on its own (ttc/search/scheduler.py) then never waits for the slowest
problem of a round. Backends that cannot stream need not: the search falls back to lock-step
rounds over `generate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Sequence, overload, runtime_checkable

FinishReason = Literal["stop", "eos", "length"]
# The most samples one request may ask for, refused above it when a config or request is built.
# The paper's largest N is 256. A request's n samples are generated at once: the hf backend runs
# them as n rows of one generate call, their KV cache (n x (prompt + max_tokens) tokens) held
# together (measured: docs/extending.md), and vLLM keeps every sequence of a request until the last one finishes.
# The requests of a batch run one after another on hf, so what one allocation grows with is n,
# not n x batch_problems. A search's N is bounded by it too (ttc/search/config.py SearchConfig:
# best-of-N asks one request of N). Raise it here for a larger N.
MAX_N = 4096


def check_n(n: int, name: str = "n") -> None:
    """A request's sample count: 1..MAX_N; a ValueError naming the setting otherwise."""
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    if n > MAX_N:
        raise ValueError(f"{name} must be <= {MAX_N} (samples one request generates at once; ttc.lm.MAX_N), got {n}")


def check_sampling(
    n: int,
    temperature: float,
    top_p: float,
    max_tokens: int | None = None,
    stop: Sequence[str] | None = None,
    n_name: str = "n",
) -> None:
    """Sampling settings an engine accepts, checked where a config or request is built (before a
    model loads); a ValueError naming the setting otherwise. `n` is one request's (`check_n`);
    max_tokens and stop None: not settings of the caller's (a search config's steps set them)."""
    check_n(n, n_name)
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if stop is not None and (not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) and s for s in stop)):
        raise ValueError(f"stop must be a list of non-empty strings, got {stop!r}")


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()  # kept at the end of the completion when hit
    seed: int = 0

    def __post_init__(self) -> None:
        check_sampling(self.n, self.temperature, self.top_p, self.max_tokens, self.stop)


@dataclass(frozen=True)
class Completion:
    text: str
    num_tokens: int  # generated tokens, the stop string's included
    finish_reason: FinishReason


@dataclass(frozen=True)
class Finished:
    """A submitted request, done: its `n` completions and the tokens of its prompt (once for
    its n samples, as the ledger counts them)."""

    ticket: int
    completions: list[Completion]
    prompt_tokens: int


def count_parameters(model: str) -> int:
    """Parameters of the checkpoint folder `model`, counted as transformers does (tied weights
    once), on the meta device from its config.json: no weights are read."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        meta_model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model))
    return sum(p.numel() for p in meta_model.parameters())


@overload
def forward_flops(parameters: int, tokens: int) -> int: ...
@overload
def forward_flops(parameters: float, tokens: float) -> float: ...
def forward_flops(parameters: float, tokens: float) -> float:
    """2 x parameters x tokens: a forward pass over `tokens` (the paper's inference FLOPs, 2 N D)."""
    return 2 * parameters * tokens


@dataclass
class Ledger:
    """Compute spent through one LM. A request's prompt is counted once for its n samples
    (what a prefix-sharing engine computes); FLOPs = 2 x parameters x tokens."""

    num_parameters: int
    calls: int = 0
    requests: int = 0
    generations: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    per_call: list[dict[str, int]] = field(default_factory=list, repr=False)

    def record(self, requests: int, generations: int, prompt_tokens: int, generated_tokens: int) -> None:
        self.calls += 1
        self.requests += requests
        self.generations += generations
        self.prompt_tokens += prompt_tokens
        self.generated_tokens += generated_tokens
        self.per_call.append(
            {
                "requests": requests,
                "generations": generations,
                "prompt_tokens": prompt_tokens,
                "generated_tokens": generated_tokens,
            }
        )

    @property
    def flops(self) -> int:
        return forward_flops(self.num_parameters, self.prompt_tokens + self.generated_tokens)


class LM(Protocol):
    ledger: Ledger
    # The chat template's tokenizer (data/prompts.py renders prompts with it); None: prompts as given.
    tokenizer: Any | None

    @property
    def num_parameters(self) -> int: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        """One list of `request.n` completions per request, in request order."""
        ...

    def close(self) -> None:
        """Free the engine (its GPU memory, its processes); the LM is not used after it."""
        ...


class LMBase:
    """The LM protocol's defaults, shared by the backends and the test fakes: no chat template,
    nothing to free."""

    tokenizer: Any | None = None

    def close(self) -> None:
        return None


@runtime_checkable
class BoundedLM(Protocol):
    """An LM that states its context window: a request's prompt tokens (`count_tokens`, as the
    engine tokenizes a prompt) plus its max_tokens must fit `context_length`. Both backends are;
    a caller that builds growing prompts (revision chains) fits them to it."""

    @property
    def context_length(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class StreamingLM(LM, Protocol):
    """An LM whose requests can be submitted while others generate. One `submit` is one call in
    the ledger, recorded when its last request finishes."""

    def submit(self, requests: Sequence[GenerationRequest]) -> list[int]:
        """One ticket per request; generation starts without waiting for the caller."""
        ...

    def collect(self) -> list[Finished]:
        """The submitted requests that finished since the last call, at least one (it waits for
        it); [] when none is left to wait for."""
        ...
