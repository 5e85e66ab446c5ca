"""Soft against hard labels: two PRMs trained on the same MC labels, compared on the same questions.

    python -m train.prm --config R.yaml --label_recipe hard --output_dir H   # R: the soft PRM's train_config.yaml
    ttc bench-prm --config B.yaml          # toy-ProcessBench, verifiers {hard: H, soft: S}, compare [hard, soft]
    python bench/label_recipes.py --soft S --hard H --bench B_OUT/prm_bench.json \
        --samples runs/full/sample_test/samples.jsonl --out eval/results/label-recipes

Reads toy-ProcessBench's summary (its paired bootstrap of the average F1, and each error class's
accuracy), scores the samples with both PRMs, and writes `label_recipes.md`: the within-question
AUC (a question's solutions ranked by their score, against correctness) and best-of-N weighted
at N, under the last-step and the min aggregation and each PRM's own default (what training
recorded from its labels), every difference paired over the test questions (eval/paired.py,
mean +- 1.96 SE; "level" when the interval holds 0).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data.prm_format import Aggregation, trained_aggregation
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Sample, read_records
from eval.paired import Paired, paired
from eval.prm import WEIGHTED_BY, ByProblem, best_of_n, scored, within_question_auc
from eval.prm_bench import BenchSummary
from ttc.verifiers.spec import VerifierConfig, load_verifier

AGGREGATIONS: tuple[Aggregation, ...] = ("last", "min")


def by_problem(path: str, samples: list[Sample], question: dict[str, str]) -> ByProblem:
    return scored(
        load_verifier(VerifierConfig(path=path), PromptFormat()), samples, question
    )  # transformers: no engine


def row(measure: str, p: Paired) -> str:
    verdict = p.verdict or "no interval"
    return (
        f"| {measure} | {p.mean_b:.3f} | {p.mean_a:.3f} | {p.diff:+.3f} [{p.low:+.3f}, {p.high:+.3f}] | "
        f"{verdict} | {p.n_questions} |"
    )


def rows(soft: ByProblem, hard: ByProblem, n: int, seed: int, defaults: dict[str, Aggregation]) -> list[str]:
    """Within-question AUC and best-of-N weighted at `n`, hard against soft, under each aggregation."""
    out = []
    curves = {name: best_of_n(b, [n], seed) for name, b in (("soft", soft), ("hard", hard))}
    for how in AGGREGATIONS:
        out.append(
            row(f"within-question AUC ({how})", paired(within_question_auc(hard, how), within_question_auc(soft, how)))
        )
        out.append(
            row(
                f"best-of-N weighted ({how}), N={n}",
                paired(curves["hard"][WEIGHTED_BY[how]][n], curves["soft"][WEIGHTED_BY[how]][n]),
            )
        )
    own = {name: WEIGHTED_BY[how] for name, how in defaults.items()}
    out.append(
        row(
            f"best-of-N weighted, each its own default (hard {defaults['hard']}, soft {defaults['soft']}), N={n}",
            paired(curves["hard"][own["hard"]][n], curves["soft"][own["soft"]][n]),
        )
    )
    return out


def bench_lines(summary: BenchSummary) -> list[str]:
    """toy-ProcessBench: the paired comparison of the average F1, and each PRM's error classes."""
    lines = [f"- {c.metric}: {c.a} {c.paired.words(c.b)}" for c in summary.comparisons if c.metric == "average F1"]
    for name, r in summary.processbench.items():
        lines.append(
            f"- {name}: average F1 {r.average_f1.text()}; "
            + ", ".join(f"{split} {s.f1.text()}" for split, s in r.splits.items())
            + "; first error found, by class: "
            + ", ".join(f"{c} {s.accuracy.text()} (n={s.n})" for c, s in r.classes.items())
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--soft", required=True, help="the PRM trained on soft labels")
    parser.add_argument("--hard", required=True, help="the PRM trained on the same labels, hard")
    parser.add_argument("--bench", required=True, help="bench-prm's prm_bench.json comparing hard with soft")
    parser.add_argument("--samples", required=True, help="the test samples (many a question)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--per-level", type=int, default=60)
    parser.add_argument("--n", type=int, default=16, help="best-of-N's N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    question = {
        p.id: p.question for p in load_problems(DataConfig(split="test", levels=args.levels, per_level=args.per_level))
    }
    samples = [s for s in read_records(args.samples, Sample) if s.problem_id in question]
    soft, hard = (by_problem(path, samples, question) for path in (args.soft, args.hard))
    defaults: dict[str, Aggregation] = {"soft": trained_aggregation(args.soft), "hard": trained_aggregation(args.hard)}
    lines = [
        "# Soft against hard MC labels: the same labels, questions and training settings",
        "",
        f"PRMs: soft `{args.soft}`, hard `{args.hard}`; samples `{args.samples}` ({len(samples)} solutions of "
        f"{len(question)} test questions). Hard minus soft, paired over questions (mean +- 1.96 SE).",
        "",
        "## toy-ProcessBench (threshold 0.5; paired bootstrap over questions)",
        "",
        *bench_lines(BenchSummary.load(args.bench)),
        "",
        "## Ranking and selection",
        "",
        "| measure | soft | hard | hard - soft [95% CI] | verdict | questions |",
        "|---|---|---|---|---|---|",
        *rows(soft, hard, args.n, args.seed, defaults),
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "label_recipes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
