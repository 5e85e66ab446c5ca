"""Hard labels by binary search against per-step MC labelling, measured in one run.

    python bench/labelling.py                                  # toy base model on vLLM (CPU), 20 problems x 4
    python bench/labelling.py --no-vllm --problems 10 --samples 4 --k 8 --passes 2
    python bench/labelling.py --levels 4 5 --problems 30       # longer solutions

`ttc label` (ttc/stages/label.py) in its two modes on the same sampled solutions and the same
rollout seed. `per_step` rolls out every non-final step prefix, all in one LM call; `binary_search`
rolls out only the midpoints of each incorrect solution's search for its first step whose k
rollouts all fail (data/labels.py FirstErrorSearch), one call per round, and nothing for a
correct solution. Samples come from the base model itself (as `ttc sample` draws them); the
rollouts come from the same model, on vLLM when it is installed (--no-vllm: transformers).

The solutions are grouped by their number of steps T and each group is labelled on its own,
both modes alike, so every figure belongs to one T. Per labelled solution:
- rollout tokens: prompt + generated tokens of the label requests, from the LM's ledger (a
  request's prompt counted once for its k rollouts, what a prefix-sharing engine computes;
  generated tokens from the completions);
- wall time: the median of --passes timed passes (after one untimed pass that gives the
  records and the tokens), the two modes' order alternating from pass to pass; on vLLM the
  timed passes find their prefixes in the prefix cache, both modes alike;
- per_step / binary_search: the ratio of the two (expected to grow with T: T-1 prefixes
  against at most ceil(log2 T), and none for correct solutions, which the `incorrect` column
  counts);
- first error agrees: the solutions whose first error (the index of the first step with hard
  label 0; T for none) is the same in both modes, over all and over those whose per-step hard labels
  are monotone (no positive step after a negative one: binary search's assumption, where it
  must agree; every pass must give the records of the first, byte for byte).
Only ratios measured in one run mean much: other jobs on the machine move every figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from collections import defaultdict
from typing import Literal

import torch
from prm_scoring import draw_samples  # bench/prm_scoring.py, beside this script

from data import toy
from data.labels import first_error, labelable, monotone
from data.problems import DataConfig, load_problems
from data.records import Problem, Sample, StepLabels, from_dict
from ttc.lm import LM
from ttc.lm.spec import LMConfig, load_lm
from ttc.stages import label

MODES = ("per_step", "binary_search")
Group = dict[str, list[Sample]]  # problem id -> its labelable solutions of one length


def by_steps(samples: dict[str, list[Sample]]) -> dict[int, Group]:
    """The labelable solutions grouped by their number of steps."""
    groups: dict[int, Group] = defaultdict(lambda: defaultdict(list))
    for pid, group in samples.items():
        for s in filter(labelable, group):
            groups[len(s.steps)][pid].append(s)
    return dict(sorted(groups.items()))


def label_group(
    lm: LM, cfg: label.LabelConfig, problems: list[Problem], group: Group
) -> tuple[list[StepLabels], int, float]:
    """One group labelled: its records, rollout tokens (prompt + generated) and wall time."""
    batch = [p for p in problems if p.id in group]
    tokens = lm.ledger.prompt_tokens + lm.ledger.generated_tokens
    start = time.perf_counter()
    records = label.label_batch(cfg, lm, batch, group)
    seconds = time.perf_counter() - start
    flat = [from_dict(StepLabels, r, "label_batch") for rs in records for r in rs]
    return flat, lm.ledger.prompt_tokens + lm.ledger.generated_tokens - tokens, seconds


@dataclasses.dataclass
class Measured:
    records: list[StepLabels]
    tokens: int
    seconds: list[float] = dataclasses.field(default_factory=list)


def measure(
    lm: LM, cfgs: dict[str, label.LabelConfig], problems: list[Problem], group: Group, passes: int
) -> dict[str, Measured]:
    """Both modes on one group: an untimed pass, then `passes` timed ones in alternating order."""
    found = {mode: Measured(*label_group(lm, cfgs[mode], problems, group)[:2]) for mode in MODES}
    for i in range(passes):
        for mode in MODES if i % 2 == 0 else MODES[::-1]:
            records, _, seconds = label_group(lm, cfgs[mode], problems, group)
            if records != found[mode].records:
                raise SystemExit(f"{mode}: pass {i + 1} gave other records than the first: rollouts not deterministic")
            found[mode].seconds.append(seconds)
    return found


def agreement(per_step: list[StepLabels], search: list[StepLabels]) -> tuple[int, int, int, int]:
    """(agree, solutions, agree among monotone, monotone) on the first error."""
    same = [first_error(a.values) == first_error(b.values) for a, b in zip(per_step, search)]
    mono = [monotone(a.values) for a in per_step]
    return sum(same), len(same), sum(s for s, m in zip(same, mono) if m), sum(mono)


def row(name: str, solutions: int, incorrect: int, found: dict[str, Measured], agree: tuple[int, int, int, int]) -> str:
    tokens = [found[m].tokens / solutions for m in MODES]
    seconds = [statistics.median(found[m].seconds) / solutions for m in MODES] if found[MODES[0]].seconds else [0, 0]
    ratio = tokens[0] / tokens[1] if tokens[1] else float("inf")
    time_ratio = seconds[0] / seconds[1] if seconds[1] else float("inf")
    return (
        f"{name:>4} {solutions:5d} {incorrect:9d} | {tokens[0]:9.0f} {tokens[1]:9.0f} {ratio:6.2f}x | "
        f"{seconds[0]:8.3f} {seconds[1]:8.3f} {time_ratio:6.2f}x | "
        f"{agree[0]:3d}/{agree[1]:<3d} {agree[2]:3d}/{agree[3]:<3d}"
    )


def total(results: dict[int, dict[str, Measured]]) -> dict[str, Measured]:
    """Every group's figures summed, pass by pass."""
    return {
        m: Measured(
            [r for f in results.values() for r in f[m].records],
            sum(f[m].tokens for f in results.values()),
            [sum(s) for s in zip(*(f[m].seconds for f in results.values()))],
        )
        for m in MODES
    }


def report(results: dict[int, dict[str, Measured]]) -> None:
    print(
        f"{'T':>4} {'sols':>5} {'incorrect':>9} | {'rollout tokens / solution':^26} | "
        f"{'wall seconds / solution':^24} | first error agrees"
    )
    print(
        f"{'':>4} {'':>5} {'':>9} | {'per_step':>9} {'binary':>9} {'ratio':>7} | {'per_step':>8} {'binary':>8} "
        f"{'ratio':>7} | {'all':>7} {'monotone':>8}"
    )
    for steps, found in [*results.items(), ("all", total(results))]:
        per_step, search = found["per_step"].records, found["binary_search"].records
        incorrect = sum(r.values[-1] == 0 for r in per_step)
        print(row(str(steps), len(per_step), incorrect, found, agreement(per_step, search)))


def backend(args: argparse.Namespace) -> Literal["hf", "vllm"]:
    if not args.vllm:
        return "hf"
    try:
        import vllm  # noqa: F401
    except ImportError:
        print("vLLM is not installed: labelling on transformers")
        return "hf"
    return "vllm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="train/checkpoints/toy-base", help="base model: sampler and rollouts")
    parser.add_argument("--levels", type=int, nargs="+", default=sorted(toy.LEVELS), help="toy levels of the problems")
    parser.add_argument("--problems", type=int, default=20, help="toy problems, spread over the levels")
    parser.add_argument("--samples", type=int, default=4, help="solutions per problem")
    parser.add_argument("--k", type=int, default=16, help="rollouts per step prefix (paper: 16)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0, help="the rollouts' seed, both modes alike")
    parser.add_argument("--passes", type=int, default=3, help="timed passes (after the untimed one)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of transformers")
    parser.add_argument("--no-vllm", dest="vllm", action="store_false", help="transformers instead of vLLM")
    parser.add_argument("--kv-cache-gib", type=float, default=1.0)
    parser.add_argument("--block-size", type=int, default=32, help="vLLM KV-cache block (prefix reuse is per block)")
    args = parser.parse_args()
    if args.passes < 1:
        parser.error("--passes must be >= 1")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # keep the figures readable

    engine = backend(args)
    lm_cfg = LMConfig(
        model=args.model,
        backend=engine,
        threads=args.threads,
        kv_cache_gib=args.kv_cache_gib,
        block_size=args.block_size if engine == "vllm" else None,
    )
    rollouts = label.RolloutConfig(k=args.k, max_tokens=args.max_tokens, seed=args.seed)
    cfgs = {
        m: label.LabelConfig(output_dir="", samples="", lm=lm_cfg, rollouts=dataclasses.replace(rollouts, mode=m))
        for m in MODES
    }
    per_level = -(-args.problems // len(args.levels))
    problems = load_problems(
        DataConfig(split="bench-labelling", levels=args.levels, per_level=per_level, limit=args.problems)
    )
    lm = load_lm(lm_cfg)
    samples = draw_samples(lm, cfgs["per_step"], problems, args.samples)
    groups = by_steps(samples)
    print(
        f"{len(problems)} toy problems (levels {args.levels}) x {args.samples} samples from {args.model} "
        f"({sum(len(s) for g in groups.values() for s in g.values())} labelable) on {engine}; k={args.k}, "
        f"max_tokens={args.max_tokens}, seed={args.seed}; wall time: median of {args.passes} pass(es)",
        flush=True,
    )
    results = {steps: measure(lm, cfgs, problems, group, args.passes) for steps, group in groups.items()}
    report(results)
    if hasattr(lm, "close"):
        lm.close()


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    main()
