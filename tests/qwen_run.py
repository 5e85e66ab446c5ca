"""The Qwen run's recipe as a user submits it, at tiny sizes on the stand-in world (qwen_standins.py).

Only three kinds of flag are added to `configs/qwen2.5-math-1.5b/pipeline.yaml`: where the data is
(the stand-in MATH release folder, the recipe's own splits, fewer problems), sizes (samples,
rollouts, budgets, training steps) and what a CPU cannot do (bf16 engines, GPUs and 64G jobs on the
CI cluster). Every stage runs, every model is trained in the run, DeepSpeed and all.
"""

from __future__ import annotations

from qwen_standins import QwenWorld

RECIPE = "configs/qwen2.5-math-1.5b/pipeline.yaml"

SIZES = [
    "--stages.sample_train.sampling.n", "4", "--stages.sample_train.sampling.max_tokens", "128",
    "--stages.label.rollouts.k", "2", "--stages.label.rollouts.max_tokens", "128",
    "--stages.sample_trajectories.sampling.n", "8", "--stages.sample_trajectories.sampling.max_tokens", "128",
    "--stages.sample_test.sampling.n", "8", "--stages.sample_test.sampling.max_tokens", "128",
    "--stages.large_greedy.sampling.max_tokens", "128",
    "--stages.difficulty.num_samples", "8", "--stages.eval_prm.max_n", "8",
    "--stages.eval_search.max_budget", "4", "--stages.eval_search.batch_problems", "4",
    "--stages.chains_train.chains", "2", "--stages.chains_train.length", "2", "--stages.chains_train.max_tokens", "128",
    "--stages.chains_test.chains", "2", "--stages.chains_test.length", "2", "--stages.chains_test.max_tokens", "128",
    "--stages.eval_revision.budget", "2",
    "--stages.eval_revision_grid.max_budget", "2", "--stages.eval_revision_grid.batch_problems", "4",
    "--stages.policy.budgets", "[4]", "--stages.policy.probe.n", "2",
]
TRAINERS = [f"--stages.{s}.{key}" if i % 2 == 0 else key for s in ("train_prm", "train_orm", "train_reviser")
            for i, key in enumerate(["batch_size", "4", "per_device_batch_size", "2", "num_epochs", "1",
                                     "eval_every", "2"])]
CPU = ["--base.dtype", "float32", "--large.dtype", "float32", "--reviser.dtype", "float32",
       *[f for s in ("train_prm", "train_orm", "train_reviser") for f in (f"--stages.{s}.trainer.bf16", "false")],
       *[f for s in ("eval_search", "eval_prm", "eval_revision", "eval_revision_grid", "policy")
         for f in (f"--stages.{s}.{'orm' if s == 'eval_revision' else 'prm'}.dtype", "float32")],
       "--stages.eval_prm.baseline.dtype", "float32",
       *(f for v in ("prm", "likelihood") for f in (f"--stages.bench_prm.verifiers.{v}.dtype", "float32"))]
# The CI cluster's one node: no GPUs, 2 CPUs, its memory (sbatch refuses more than the node has).
CLUSTER = [f for kind in ("gpu", "trainer", "cpu")
           for f in (f"--resources.{kind}.gpus", "0", f"--resources.{kind}.cpus", "1", f"--resources.{kind}.mem", "2G")]


# Questions: training ones for the PRM, reviser and ORM; test ones enough to fill 5 difficulty bins twice
# (2-fold cross-validation); held-out ones for `ttc solve`.
PROBLEMS = {"train_data": 8, "test_data": 10, "heldout_data": 4}


def tiny_flags(world: QwenWorld) -> list[str]:
    """The flags over the recipe: the stand-in data (its splits as the recipe names them), sizes, a CPU."""
    data = [f for name, limit in PROBLEMS.items()
            for f in (f"--{name}.source", str(world.math), f"--{name}.limit", str(limit))]
    return [*data, *SIZES, *TRAINERS, *CPU]
