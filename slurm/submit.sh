#!/usr/bin/env bash
# Submit the PRM pipeline as one chain: sample (array) -> merge -> label (array) -> merge ->
# PRM training, each step starting only if the previous one succeeded (--dependency=afterok).
#   slurm/submit.sh --sample configs/toy/sample_train.yaml --label configs/toy/label.yaml \
#                   --prm configs/toy/prm.yaml --shards 4 [--skip-sample]
# Prints the job ids (one line: sample merge label merge train). Partition, account, GPUs and
# time limits come from the caller's SBATCH_* variables (e.g. SBATCH_PARTITION, SBATCH_GPUS_PER_NODE).
set -euo pipefail
usage() { sed -n '2,6p' "$0"; exit "${1:-0}"; }
sample="" label="" prm="" shards=1 skip_sample=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sample) sample=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --prm) prm=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --skip-sample) skip_sample=1; shift ;;
    -h|--help) usage ;;
    *) echo "submit.sh: unknown flag $1" >&2; usage 2 ;;
  esac
done
[ -n "$label" ] && [ -n "$prm" ] && { [ "$skip_sample" = 1 ] || [ -n "$sample" ]; } \
  || { echo "submit.sh: --label, --prm and --sample (or --skip-sample) are required" >&2; usage 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p logs
submit() { sbatch --parsable --kill-on-invalid-dep=yes "$@"; }
after=() ids=()
if [ "$skip_sample" = 0 ]; then
  s=$(submit --array=0-$((shards - 1)) "$here/stage.sbatch" --stage sample --config "$sample")
  m=$(submit --dependency=afterok:$s "$here/merge.sbatch" sample --config "$sample" --num_shards "$shards")
  after=(--dependency=afterok:$m) ids+=("$s" "$m")
fi
l=$(submit "${after[@]}" --array=0-$((shards - 1)) "$here/stage.sbatch" --stage label --config "$label")
m=$(submit --dependency=afterok:$l "$here/merge.sbatch" label --config "$label" --num_shards "$shards")
t=$(submit --dependency=afterok:$m "$here/train.sbatch" --module train.prm --config "$prm")
echo "${ids[@]}" "$l" "$m" "$t"
