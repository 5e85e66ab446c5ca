#!/usr/bin/env bash
# Submit a whole run as one Slurm dependency chain, derived from the stage graph
# (ttc/pipeline/graph.py): one job per stage, each afterok on the stages it reads, then the report.
#   slurm/pipeline.sh --config configs/qwen2.5-math-1.5b/pipeline.yaml --run_dir runs/qwen [--shards 8] [--dry-run]
# Any other flag overrides the recipe (--test_data.per_level 20, --only "[sample_train, label]").
# Run it from the repository root (the recipes' relative paths). Prints the job ids, in order.
# What each job asks for (GPUs, CPUs, memory, time) is the recipe's `resources:`; --dry-run prints
# every sbatch line and a table of them. Every job runs this Python (the repository's .venv when
# it has one, else PYTHON, else python). Partition, account: SBATCH_PARTITION, SBATCH_ACCOUNT.
set -euo pipefail
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
[ -z "${PYTHON:-}" ] && [ -x "$venv" ] && PYTHON="$venv"
exec "${PYTHON:-python}" -m ttc.pipeline.cli pipeline --slurm "$@"
