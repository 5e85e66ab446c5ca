"""Wall time of beam search, lookahead search and DVTS against best-of-N at the same N, measured
in one run.

    python bench/search.py                                   # toy base and toy PRM on vLLM, 40 problems, N=16
    python bench/search.py --passes 7 --problems 80
    python bench/search.py --backend hf --prm-backend hf --problems 10 --n 8 --passes 3
    python bench/search.py --batching                        # also: one problem at a time vs batched

Best-of-N draws N whole solutions per problem (one request of n=N) and scores them; on vLLM a
problem's samples are scored as soon as they are drawn, while the engine draws the others'.
The tree searches (ttc/search; width M=--width, lookahead k=--lookahead, whose budget is N(k+1))
run each problem on its own: on vLLM, a problem's next round is submitted as soon as its
candidates are scored, while the engine generates the others', and the PRM scores in a thread
of its own; with the vLLM PRM (batch-invariant on CPU) whatever is ready goes first, with
transformers' an order independent of timing (ttc/search/scheduler.py). On a transformers LM
they run in lock-step rounds. "beam, lock-step rounds" is beam search with the
LM's streaming hidden: one LM call and one PRM call a round for every problem, as before;
"best-of-N, lock-step" likewise one LM call, then one PRM call for every sample. The
two engines run on different cores (--lm-cpus, --prm-cpus; on a 2-core CPU, one each).

Every strategy runs once untimed (warm-up: vLLM's prefix cache then holds the prompts for all
alike), then --passes timed passes, each running every strategy once, in an order that rotates
from pass to pass so that a slow spell of the machine does not fall on one strategy. Reported:
the median wall time with its min-max; the time spent waiting on the LM (generate, or submit
and collect) and inside the PRM's `score`; and the ratios to best-of-N (and DVTS to beam), each
the median over passes of that pass's ratio, with its min-max. When streaming, the PRM scores
while the LM generates: its time is then the PRM's busy time, which the search did not wait
for, and the LM's is nearly the whole wall time. Every pass must
give the results of the warm-up, byte for byte (a seed fixes them, whatever the timing).
--batching adds beam search with one problem at a time (a search per problem) against all at
once. Only ratios measured in one run mean much: other jobs on the machine move every figure.

"PRM replayed": best-of-N and beam search again, the PRM's answers replayed from their warm-up
(`Replayed`): what is left is the LM's work and the driver's, the floor that no overlap with the
PRM can go below. On the toy world on CPU that floor, not the PRM, keeps beam search from
best-of-N's time: it generates more tokens (it runs until N finals are set aside), prefills
the partial KV block of every child's prefix again (vLLM's CPU block is 32 tokens), and sends
one request per kept beam and round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Sequence

import torch
from timing import Timed  # bench/timing.py, beside this script

from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem
from ttc.lm import LM, Completion, GenerationRequest
from ttc.lm.spec import LMConfig, load_lm
from ttc.search import BeamConfig, BestOfNConfig, DVTSConfig, SearchResult, beam_search, best_of_n, dvts
from ttc.verifiers.spec import VerifierConfig, load_verifier


@contextmanager
def on_cores(cpus: str):
    """Start an engine on these cores ("0", "0,1", "0-7"): vLLM's processes inherit the affinity
    and its worker binds its threads to them. Apart from the other engine's, they can score
    while it generates; vLLM's own choice binds both engines' workers to the same cores and
    leaves the rest of their processes anywhere."""
    before, ids = os.sched_getaffinity(0), set()
    for part in cpus.split(","):
        first, _, last = part.partition("-")
        ids.update(range(int(first), int(last or first) + 1))
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = cpus  # read when an engine starts
    os.sched_setaffinity(0, ids)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


class LockStep:
    """The LM without its streaming methods: a tree search on it runs in lock-step rounds (one LM
    call and one PRM call a round for every problem), as before streaming: the baseline."""

    def __init__(self, lm: LM):
        self.lm, self.ledger, self.num_parameters = lm, lm.ledger, lm.num_parameters
        self.tokenizer = lm.tokenizer  # the search renders its prompts with it (the LM protocol's)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        return self.lm.generate(requests)

    def close(self) -> None:
        self.lm.close()


class Replayed:
    """A verifier that gives the answers (values and token counts) its `inner` verifier gave
    while `recording`, and after that only those: a search on it costs the LM's work alone."""

    def __init__(self, inner):
        self.inner, self.recording, self.answers = inner, True, {}
        self.num_parameters = inner.num_parameters
        self.batch_invariant = getattr(inner, "batch_invariant", False)  # the search runs in the same order
        self.last_tokens: list[int] = []

    def score(self, questions, solutions):
        keys = [(q, tuple(s)) for q, s in zip(questions, solutions)]
        if self.recording:
            values = self.inner.score(questions, solutions)
            self.answers.update(zip(keys, zip(values, self.inner.last_tokens, strict=True)))
        missing = [k for k in keys if k not in self.answers]
        if missing:
            raise KeyError(f"{len(missing)} solutions the warm-up did not score: the replayed search strayed")
        self.last_tokens = [self.answers[k][1] for k in keys]
        return [self.answers[k][0] for k in keys]


Search = Callable[[list[Problem]], list[SearchResult]]


def measure(
    search: Search, problems: list[Problem], lm: Timed, prm: Timed, one_at_a_time: bool = False
) -> tuple[dict, list[SearchResult]]:
    lm.seconds = prm.seconds = lm.calls = prm.calls = 0
    if hasattr(prm.inner, "forget_prefixes"):  # what an earlier run scored must not make this one's cheap
        prm.inner.forget_prefixes()
    computed = getattr(prm.inner, "tokens_computed", None)
    start = time.perf_counter()
    results = [r for p in problems for r in search([p])] if one_at_a_time else search(problems)
    return {
        "seconds": time.perf_counter() - start,
        "lm": lm.seconds,
        "lm_calls": lm.calls,
        "prm": prm.seconds,
        "prm_calls": prm.calls,
        "accuracy": sum(r.correct for r in results) / len(results),
        "generated": sum(r.generated_tokens for r in results),
        "prm_tokens": sum(r.prm_tokens or 0 for r in results),
        "prm_computed": None if computed is None else prm.inner.tokens_computed - computed,
    }, results


def spread(values: list[float], unit: str = "") -> str:
    return f"{statistics.median(values):5.2f}{unit} [{min(values):.2f}-{max(values):.2f}]"


def show(name: str, runs: list[dict]) -> None:
    last = runs[-1]
    print(
        f"{name:>26}: {spread([m['seconds'] for m in runs], ' s')}  LM {spread([m['lm'] for m in runs])} "
        f"({last['lm_calls']} calls)  PRM {spread([m['prm'] for m in runs])} ({last['prm_calls']} calls); "
        f"{last['generated']} generated, {last['prm_tokens']} PRM tokens"
        + ("" if last["prm_computed"] is None else f" ({last['prm_computed']} run, the rest a cached prefix)")
        + f"; accuracy {last['accuracy']:.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="train/checkpoints/toy-base")
    parser.add_argument("--backend", default="vllm", choices=["hf", "vllm"])
    parser.add_argument("--prm", default="train/checkpoints/toy-prm", help="a PRM folder in our format")
    parser.add_argument("--prm-backend", default="vllm", choices=["hf", "vllm"])
    parser.add_argument("--problems", type=int, default=40, help="toy test problems, spread over the 5 levels")
    parser.add_argument("--n", type=int, default=16, help="the generation budget N (beams, samples)")
    parser.add_argument("--width", default="4", help="beam width M of the tree searches: an integer or 'sqrt'")
    parser.add_argument("--lookahead", type=int, default=2, help="k of the lookahead search (its budget: N(k+1))")
    parser.add_argument("--max-tokens", type=int, default=128, help="per best-of-N solution")
    parser.add_argument("--max-step-tokens", type=int, default=32, help="per tree-search step")
    parser.add_argument("--passes", type=int, default=5, help="timed passes over all strategies")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the hf LM and PRM")
    parser.add_argument("--block-size", type=int, default=32, help="vLLM KV-cache block (prefix reuse is per block)")
    parser.add_argument("--batching", action="store_true", help="also beam search one problem at a time")
    cpus = sorted(os.sched_getaffinity(0))
    parser.add_argument(
        "--lm-cpus",
        default=",".join(map(str, cpus[: max(1, len(cpus) // 2)])),
        help="the cores of the LM's engine (default: the first half)",
    )
    parser.add_argument(
        "--prm-cpus",
        default=",".join(map(str, cpus[len(cpus) // 2 :])),
        help="the cores of the PRM's engine (default: the second half)",
    )
    args = parser.parse_args()
    if not (Path(args.prm) / "prm_format.json").is_file():
        sys.exit(f"no PRM at {args.prm}: pass --prm (a folder written by train/prm.py)")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # keep the figures readable

    levels = [1, 2, 3, 4, 5]
    per_level = -(-args.problems // len(levels))
    problems = load_problems(DataConfig(levels=levels, per_level=per_level, split="bench-search"))
    problems = [problems[i * per_level + j] for j in range(per_level) for i in range(len(levels))][: args.problems]
    with on_cores(args.lm_cpus):
        lm = Timed(
            load_lm(
                LMConfig(
                    model=args.model,
                    backend=args.backend,
                    threads=args.threads,
                    block_size=args.block_size if args.backend == "vllm" else None,
                )
            ),
            "generate",
            "submit",
            "collect",
        )
    with on_cores(args.prm_cpus):
        prm = Timed(
            load_verifier(
                VerifierConfig(path=args.prm, backend=args.prm_backend, threads=args.threads), PromptFormat()
            ),
            "score",
        )
    width = args.width if args.width == "sqrt" else int(args.width)
    tree = {"n": args.n, "beam_width": width, "max_step_tokens": args.max_step_tokens}
    beam_cfg, bon_cfg = BeamConfig(**tree), BestOfNConfig(n=args.n, max_tokens=args.max_tokens)
    configs = {
        f"best-of-N weighted N={args.n}": (best_of_n, bon_cfg),
        f"beam N={args.n} M={beam_cfg.width}": (beam_search, beam_cfg),
        "beam, lock-step rounds": (lambda ps, lm, prm, cfg: beam_search(ps, LockStep(lm), prm, cfg), beam_cfg),
        "best-of-N, lock-step": (lambda ps, lm, prm, cfg: best_of_n(ps, LockStep(lm), prm, cfg), bon_cfg),
        f"lookahead k={args.lookahead}": (beam_search, BeamConfig(**tree, lookahead=args.lookahead)),
        f"DVTS N={args.n} M={beam_cfg.width}": (dvts, DVTSConfig(**tree)),
    }
    searches: dict[str, Search] = {
        name: (lambda ps, run=run, cfg=cfg: run(ps, lm, prm, cfg)) for name, (run, cfg) in configs.items()
    }
    replayed = {
        "best-of-N, PRM replayed": (best_of_n, bon_cfg, Replayed(prm)),
        "beam, PRM replayed": (beam_search, beam_cfg, Replayed(prm)),
    }
    searches |= {
        name: (lambda ps, run=run, cfg=cfg, verifier=verifier: run(ps, lm, verifier, cfg))
        for name, (run, cfg, verifier) in replayed.items()
    }
    lm_on = f"vllm (block size {args.block_size}, cores {args.lm_cpus})" if args.backend == "vllm" else "hf"
    prm_on = f"vllm (cores {args.prm_cpus})" if args.prm_backend == "vllm" else "hf"
    print(
        f"workload: {len(problems)} toy test problems (levels 1-5), N={args.n}, M={beam_cfg.width}; policy "
        f"{args.model} on {lm_on}, PRM {args.prm} on {prm_on}; {args.passes} passes",
        flush=True,
    )

    names = list(searches)
    reference = {name: measure(searches[name], problems, lm, prm)[1] for name in names}  # warm-up
    for _, _, verifier in replayed.values():
        verifier.recording = False
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for k in range(args.passes):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            figures, results = measure(searches[name], problems, lm, prm)
            if results != reference[name]:
                sys.exit(f"{name}: pass {k + 1} gave other results than the warm-up under the same seed")
            runs[name].append(figures)
    for name in names:
        show(name, runs[name])
    bon, beam, lock_step, bon_lock_step, lookahead, dvts_name, bon_replayed, beam_replayed = names
    for name, base, goal in [
        (beam, bon, "goal <= 1.2"),
        (lock_step, bon, "rounds in lock-step, as before"),
        (bon, bon_lock_step, "scored as drawn / in one PRM call after the last sample"),
        (lookahead, bon, f"{args.lookahead + 1}x the generations"),
        (dvts_name, bon, ""),
        (dvts_name, beam, "goal <= 1"),
        (beam_replayed, bon_replayed, "the LM's work alone: the floor of beam / best-of-N"),
    ]:
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(runs[name], runs[base])]
        print(f"ratio {name} / {base}: {spread(ratios)}" + (f"  ({goal})" if goal else ""), flush=True)
    print(f"results identical in every pass: yes ({args.passes} passes)")
    if args.batching:
        batched = statistics.median(m["seconds"] for m in runs[beam])
        alone, _ = measure(searches[beam], problems, lm, prm, one_at_a_time=True)
        show("beam, one problem a time", [alone])
        print(f"ratio one problem at a time / batched (beam search): {alone['seconds'] / batched:.2f}")
    for engine in (lm.inner, prm.inner):
        if hasattr(engine, "close"):
            engine.close()


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    main()
