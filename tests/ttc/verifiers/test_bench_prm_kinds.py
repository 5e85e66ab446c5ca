"""`ttc bench-prm` with every verifier kind at once (ours, the likelihood, and stand-ins of
Math-Shepherd, RLHFlow and Qwen2.5-Math-PRM with their real architectures, tokens and heads) on
ProcessBench and PRMBench files in their published layouts: one command gives each its numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eval.prm_bench import BenchPRMConfig, BenchSummary, main

pytestmark = pytest.mark.e2e  # real PRM kinds loaded

PROBLEM = "Compute 12+34-15."
SOLUTIONS = [(["=46-15", "=31", "\\boxed{31}"], -1), (["=46-15", "=30", "\\boxed{30}"], 1), (["=45-15", "=30"], 0)]


def write_processbench(root):
    root.mkdir()
    for split in ("gsm8k", "math"):  # the hub's layout: one JSON array a split, at the root
        items = [
            {
                "id": f"{split}-{i}",
                "generator": "toy",
                "problem": PROBLEM,
                "steps": steps,
                "final_answer_correct": label == -1,
                "label": label,
            }
            for i, (steps, label) in enumerate(SOLUTIONS)
        ]
        (root / f"{split}.json").write_text(json.dumps(items))
    return root


def write_prmbench(root):
    root.mkdir()
    lines = [
        {
            "original_question": PROBLEM,
            "modified_question": PROBLEM,
            "original_process": SOLUTIONS[0][0],
            "modified_process": steps,
            "modified_steps": [label + 1],
            "error_steps": [label + 1],
            "reason": "-",
            "idx": f"q{i}",
            "question": PROBLEM,
            "classification": classification,
        }
        for i, ((steps, label), classification) in enumerate(zip(SOLUTIONS[1:], ("counterfactual", "circular")))
    ]
    (root / "prmtest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return root


@pytest.mark.parametrize("benchmark, write", [("processbench", write_processbench), ("prmbench", write_prmbench)])
def test_every_verifier_kind_on_the_published_benchmarks(standins, tmp_path, benchmark, write):
    kinds: dict[str, Any] = {  # sections as a recipe gives them
        kind: {"kind": kind, "path": str(path), "backend": "hf", "device": "cpu"} for kind, path in standins.items()
    }
    main(
        BenchPRMConfig(
            verifiers=kinds,
            output_dir=str(tmp_path / "out"),
            benchmark=benchmark,
            data=str(write(tmp_path / "data")),
            compare=["prm", "likelihood"],
            resamples=20,
            splits=["gsm8k", "math"] if benchmark == "processbench" else [],
        )
    )
    summary = BenchSummary.load(tmp_path / "out" / "prm_bench.json")
    results = summary.processbench if benchmark == "processbench" else summary.prmbench
    assert set(results) == set(standins) == {"prm", "likelihood", "math-shepherd", "rlhflow", "qwen2.5-math-prm"}
    if benchmark == "processbench":  # both splits, each with one erroneous solution of each kind and one correct
        processbench = summary.processbench.values()  # `results`, typed by the benchmark
        assert all(set(r.splits) == {"gsm8k", "math"} and r.average_f1.value is not None for r in processbench)
        assert all(s.n_erroneous == 2 and s.n_correct == 1 for r in processbench for s in r.splits.values())
    else:
        assert all(
            set(r.classes) >= {"counterfactual", "circular"} and r.prmscore.value is not None
            for r in summary.prmbench.values()
        )
    assert summary.comparisons and {c.a for c in summary.comparisons} == {"prm"}
