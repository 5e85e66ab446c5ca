#!/usr/bin/env bash
# Submit a whole run as one Slurm dependency chain (every job --dependency=afterok on its inputs):
#   sample (array) -> merge -> label (array) -> merge -> train PRM ---------------------------+
#   sample for trajectories (array) -> merge -> trajectories (array) -> merge -> train reviser |
#   eval samples (array) -> merge ---------------------> difficulty <--- PRM -----------------+
#   eval grid (array of shards, after the PRM) -> merge --> compute-optimal <- difficulty     |
#   [larger model greedy (array) -> merge -> flops-matched]  [policy eval (ttc solve)]        |
#   [reviser + PRM -> ORM data -> train ORM -> revision eval (Figs. 6, 7)]                     |
#   report (after everything) <---------------------------------------------------------------+
#   slurm/pipeline.sh CONFIG_DIR RUN_DIR [--shards N] [--dry-run]
# CONFIG_DIR holds one recipe per stage (configs/toy, configs/qwen2.5-math-1.5b): sample_train
# (or sample), label, prm, sample_trajectories, trajectories, revision, sample_eval, eval_search,
# difficulty, compute_optimal; optional: sample_large + flops_matched, eval_policy, orm_data + orm
# + eval_revision. Every path between stages is set here, under RUN_DIR; recipes give models, data
# and settings. Run it from the repository root (recipes' relative paths). Prints one line: every
# job id, in order.
# Environment: PYTHON (default: python); partition, account, GPUs: SBATCH_* variables.
set -euo pipefail
usage() { sed -n '2,17p' "$0"; exit "${1:-0}"; }
[ $# -ge 2 ] || { [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] && usage; echo "pipeline.sh: CONFIG_DIR and RUN_DIR are required" >&2; usage 2; }
conf=$1 run=$(mkdir -p "$2" && cd "$2" && pwd); shift 2
shards=1 dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage ;;
    *) echo "pipeline.sh: unknown flag $1" >&2; usage 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}
recipe() {  # the first of the names that CONFIG_DIR has, or nothing
  for name in "$@"; do [ -f "$conf/$name.yaml" ] && { echo "$conf/$name.yaml"; return; }; done
}
need() { local r; r=$(recipe "$@"); [ -n "$r" ] || { echo "pipeline.sh: $conf has no $1.yaml" >&2; exit 2; }; echo "$r"; }
ids=() n=0
submit() {  # sbatch, the id printed; --dry-run prints the command and a made-up id
  n=$((n + 1))
  if [ "$dry" = 1 ]; then echo "sbatch $*" >&2; id=$n; else id=$(sbatch --parsable --kill-on-invalid-dep=yes "$@"); fi
  ids+=("$id")
}
# A sharded ttc stage (ttc sample/label/trajectories/eval) as an array, then its merge.
sharded() {  # sharded STAGE RECIPE DEPS(colon-separated or "") OVERRIDES...
  local stage=$1 cfg=$2 deps=$3; shift 3
  local dep=(); [ -n "$deps" ] && dep=("--dependency=afterok:$deps")
  submit "${dep[@]}" --job-name="ttc-$stage" --array=0-$((shards - 1)) "$here/stage.sbatch" --stage "$stage" --config "$cfg" "$@"
  submit --dependency=afterok:"$id" --job-name="ttc-merge-$stage" "$here/merge.sbatch" "$stage" --config "$cfg" --num_shards "$shards" "$@"
}
port=29500
trainer() {  # trainer MODULE RECIPE DEPS OVERRIDES...: train.sbatch, a rendezvous port of its own
  local module=$1 cfg=$2 deps=$3; shift 3; port=$((port + 1))
  submit --dependency=afterok:"$deps" --export=ALL,MASTER_PORT=$port "$here/train.sbatch" --module "$module" --config "$cfg" "$@"
}
analysis() {  # analysis NAME DEPS COMMAND...: one process (python -m ...)
  local name=$1 deps=$2; shift 2
  submit --dependency=afterok:"$deps" --job-name="ttc-$name" --output="logs/%x-%j.out" --ntasks=1 \
    --wrap="$(printf '%q ' srun --kill-on-bad-exit=1 --ntasks=1 "$PYTHON" "$@")"
}
mkdir -p logs
R=$run

# --- the PRM ------------------------------------------------------------------------------
sharded sample "$(need sample_train sample)" "" --output_dir "$R/prm/samples"
sharded label "$(need label)" "$id" --output_dir "$R/prm/labels" --samples "$R/prm/samples/samples.jsonl"
trainer train.prm "$(need prm)" "$id" --labels_file "$R/prm/labels/labels.jsonl" --output_dir "$R/prm/model"
prm=$id

# --- the reviser --------------------------------------------------------------------------
sharded sample "$(need sample_trajectories)" "" --output_dir "$R/revision/samples"
sharded trajectories "$(need trajectories)" "$id" --output_dir "$R/revision/trajectories" \
  --samples "$R/revision/samples/samples.jsonl"
trainer train.revision "$(need revision)" "$id" --output_dir "$R/revision/model" \
  --trajectories_file "$R/revision/trajectories/trajectories.jsonl"
reviser=$id

# --- evaluation ---------------------------------------------------------------------------
sharded sample "$(need sample_eval)" "" --output_dir "$R/eval/samples"
samples=$id
sharded eval "$(need eval_search)" "$prm" --output_dir "$R/eval/search" --prm.path "$R/prm/model"
grid=$id
results="[$R/eval/search/results.jsonl]"
analysis difficulty "$prm:$samples" -m eval.difficulty --config "$(need difficulty)" --output_dir "$R/eval/difficulty" \
  --samples "$R/eval/samples/samples.jsonl" --prm "$R/prm/model"
difficulty=$id
analysis compute-optimal "$grid:$difficulty" -m eval.compute_optimal --config "$(need compute_optimal)" \
  --results "$results" --output_dir "$R/eval/compute_optimal" \
  --bins "{oracle: $R/eval/difficulty/bins_oracle.json, predicted: $R/eval/difficulty/bins_predicted.json}"
last=("$reviser" "$id")
if [ -n "$(recipe orm_data)" ]; then  # the revision ORM on the reviser's own chains, then Figs. 6-7
  analysis orm-data "$reviser:$prm" -m train.orm_data --config "$(need orm_data)" --output_dir "$R/orm/data" \
    --reviser.model "$R/revision/model" --orm "$R/prm/model"
  trainer train.prm "$(need orm)" "$id" --labels_file "$R/orm/data/labels.jsonl" --output_dir "$R/orm/model"
  analysis revisions "$id" -m eval.revision --config "$(need eval_revision)" --output_dir "$R/eval/revision" \
    --reviser.model "$R/revision/model" --orm "$R/orm/model"
  last+=("$id")
fi
if [ -n "$(recipe flops_matched)" ]; then
  sharded sample "$(need sample_large)" "" --output_dir "$R/eval/large"
  analysis flops-matched "$grid:$difficulty:$id" -m eval.flops_matched --config "$(need flops_matched)" \
    --results "$results" --bins "$R/eval/difficulty/bins_oracle.json" --large_greedy "$R/eval/large/samples.jsonl" \
    --output_dir "$R/eval/flops_matched"
  last+=("$id")
fi
if [ -n "$(recipe eval_policy)" ]; then
  analysis policy "${last[1]}" -m eval.policy --config "$(need eval_policy)" --output_dir "$R/eval/policy" \
    --prm.path "$R/prm/model" --policy "$R/eval/compute_optimal/policy_predicted.json" \
    --bins "$R/eval/difficulty/bins_predicted.json"
  last+=("$id")
fi
analysis report "$(IFS=:; echo "${last[*]}")" -m eval.report "$R"  # ttc report RUN_DIR
echo "${ids[@]}"
