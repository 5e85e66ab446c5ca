"""On one GPU: Qwen2.5-Math-PRM-7B on ProcessBench, its F1 per split and average beside the published.

    python bench/processbench_gpu.py                                   # the 4 splits, vLLM, the HF cache
    python bench/processbench_gpu.py --data /path/to/ProcessBench --backend hf --max-items 100
    python bench/processbench_gpu.py --cpu --kind prm --model train/checkpoints/toy-prm --data DIR  # no GPU

It runs `ttc bench-prm`'s code (eval/prm_bench.py main) with one verifier, `{kind:
qwen2.5-math-prm, path: Qwen/Qwen2.5-Math-PRM-7B}`, at the published threshold 0.5 on its
P(correct) (the ProcessBench protocol for PRMs that predict step correctness; eval/prm_bench.py's
docstring), and prints each split's accuracies and F1 with its bootstrap interval, and the
average beside the published 73.5 (Zhang et al. 2025, arXiv 2501.07301, the Qwen2.5-Math-PRM-7B
row; 56.5 for Qwen2.5-Math-7B-PRM800K, 31.5 Math-Shepherd, 28.4 RLHFlow-Mistral, from the
ProcessBench paper's Table 3). The full outputs (prm_bench.json/.md/.png, and each item's
predictions in predictions.jsonl) go to --output-dir.

Model and data are found offline, as bench/gpu_check.py finds models: a folder, or a hub id in
the Hugging Face cache (HF_HOME / HF_HUB_CACHE; the dataset Qwen/ProcessBench with its
`<split>.json` files); nothing is downloaded. Either absent: one line naming it and how to fetch
it, exit status 2, before any weight is read; no GPU (without --cpu): likewise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, cast

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models and data from the cache: nothing is downloaded
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from data.config import ConfigError  # noqa: E402
from data.prm_bench import PROCESSBENCH, PROCESSBENCH_SPLITS, locate  # noqa: E402
from data.records import RecordError  # noqa: E402

if TYPE_CHECKING:
    from ttc.verifiers.spec import VerifierConfig

MODEL = "Qwen/Qwen2.5-Math-PRM-7B"
PUBLISHED_AVERAGE = {"qwen2.5-math-prm": 73.5}  # by kind, for the default model; arXiv 2501.07301


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=MODEL, help="a folder or a cached hub id (default %(default)s)")
    parser.add_argument("--kind", default="qwen2.5-math-prm", help="the verifier kind (ttc/verifiers/spec.py KINDS)")
    parser.add_argument("--data", default=PROCESSBENCH, help="a folder of <split>.json files or a cached dataset id")
    parser.add_argument("--splits", nargs="+", default=list(PROCESSBENCH_SPLITS), choices=PROCESSBENCH_SPLITS)
    parser.add_argument("--backend", default="vllm", choices=["hf", "vllm"])
    parser.add_argument("--threshold", default="0.5", help="a value, or a split name to tune it on (default 0.5)")
    parser.add_argument("--max-items", type=int, help="at most this many items a split (default: all)")
    parser.add_argument("--batch-size", type=int, default=8, help="hf: solutions per forward pass")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.85, help="vllm: the engine's share")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for the intervals")
    parser.add_argument(
        "--output-dir", help="where prm_bench.json/.md/.png and predictions.jsonl go (default: a temporary folder)"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="no GPU: the hf backend on the CPU (a smoke run, small models)"
    )
    args = parser.parse_args(argv)
    if (args.max_items is not None and args.max_items < 1) or args.batch_size < 1 or args.resamples < 0:
        parser.error("--max-items and --batch-size must be >= 1, --resamples >= 0")
    try:
        args.threshold = float(args.threshold)
    except ValueError:
        if args.threshold not in args.splits:
            parser.error(f"--threshold: a number or one of the splits run ({', '.join(args.splits)})")
    return args


def check_inputs(args: argparse.Namespace) -> None:
    """The data and the model are here (a folder or the cache), before any GPU or weight."""
    from ttc.verifiers.spec import resolve_path

    locate(args.data, "--data")
    try:
        resolve_path(args.model, args.kind == "likelihood")
    except ConfigError as e:
        raise ConfigError(f"--model: {str(e).removeprefix('path: ')}") from None


def config(args: argparse.Namespace, output_dir: str):
    from eval.prm_bench import BenchPRMConfig

    device = "cpu" if args.cpu else "auto"
    spec = {
        "kind": args.kind,
        "path": args.model,
        "backend": "hf" if args.cpu else args.backend,
        "device": device,
        "batch_size": args.batch_size,
        "gpu_memory_utilization": args.gpu_memory_utilization,
    }
    if args.cpu:
        spec["dtype"] = "float32"
    return BenchPRMConfig(
        {Path(args.model).name: cast("VerifierConfig", spec)},  # BenchPRMConfig builds it from the mapping
        output_dir,
        data=args.data,
        splits=args.splits,
        threshold=args.threshold,
        resamples=args.resamples,
        max_items=args.max_items,
    )


def report(summary, kind: str) -> str:
    """Each split's accuracies and F1 (interval), the average, and the published average."""
    ((name, result),) = summary.processbench.items()
    lines = [
        f"{name} on ProcessBench, threshold {result.threshold:g} ({result.threshold_from}):",
        f"{'split':<15}{'n':>6}{'acc err':>9}{'acc ok':>9}  F1 [95% bootstrap]",
    ]
    for split, s in result.splits.items():
        acc = [f"{100 * x:>9.1f}" if x is not None else f"{'-':>9}" for x in (s.acc_erroneous, s.acc_correct)]
        lines.append(f"{split:<15}{s.n_erroneous + s.n_correct:>6}{''.join(acc)}  {s.f1.text()}")
    published = PUBLISHED_AVERAGE.get(kind)
    beside = f"   (published: {published})" if published is not None else ""
    lines.append(f"{'average':<15}{'':>24}  {result.average_f1.text()}{beside}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        check_inputs(args)
    except (ConfigError, RecordError) as e:
        print(f"processbench_gpu: {e}", file=sys.stderr)
        return 2
    import torch

    if not args.cpu and not torch.cuda.is_available():
        print(
            "processbench_gpu: no CUDA GPU here (torch.cuda.is_available() is False): run it on a GPU node, or "
            "with --cpu for the same code on the CPU (a small model)",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from eval.prm_bench import BenchSummary
    from eval.prm_bench import main as bench

    with tempfile.TemporaryDirectory(prefix="processbench-") as scratch:
        out = args.output_dir or scratch
        try:
            bench(config(args, out))
        except (ConfigError, RecordError) as e:
            print(f"processbench_gpu: {e}", file=sys.stderr)
            return 2
        print(report(BenchSummary.load(Path(out) / "prm_bench.json"), args.kind), flush=True)
    return 0


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    sys.exit(main(sys.argv[1:]))
