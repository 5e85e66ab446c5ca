"""The committed results are checkable: `eval/results/toy-full` holds every summary its report
reads, and `ttc report` rebuilds the committed report.md from that folder alone, byte for byte."""

import shutil

from tests.support.runs import REPO
from ttc.pipeline import report

ROOT = REPO
EVIDENCE = ROOT / "eval" / "results" / "toy-full"


def test_the_committed_report_is_rebuilt_from_the_committed_evidence(tmp_path):
    copy = tmp_path / EVIDENCE.name
    shutil.copytree(EVIDENCE, copy)
    (copy / report.REPORT).unlink()
    rebuilt = report.write(copy).read_text()
    assert rebuilt == (EVIDENCE / report.REPORT).read_text()
    assert "missing:" not in rebuilt and "9 of 9 parts found" in rebuilt


def test_export_keeps_the_evidence_and_leaves_records_and_models(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(EVIDENCE, run)
    junk = [
        run / "sample_test" / "samples.jsonl",
        run / "eval_search" / "results.shard-00000-of-00001.jsonl",
        run / "eval_search" / "results.settings.json",
        run / "train_prm" / "model" / "config.json",
    ]
    for path in junk:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    dest = tmp_path / EVIDENCE.name
    written = report.export(run, dest)
    assert written.read_text() == (EVIDENCE / report.REPORT).read_text()
    assert not any((dest / p.relative_to(run)).exists() for p in junk)
    kept = sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())
    assert kept == sorted(p.relative_to(EVIDENCE) for p in EVIDENCE.rglob("*") if p.is_file())
