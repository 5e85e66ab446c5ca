"""A run as one Slurm dependency chain: one job per stage, each `--dependency=afterok` on the jobs
of the stages it reads, then the report. `ttc pipeline --config RECIPE --run_dir R --slurm`.

Each job runs `ttc pipeline ... --stage S` (ttc/pipeline/local.py's run_one) with the
submission's own recipe and flags, so a job builds exactly the config that was checked here. By
what the stage's module declares (its `STAGE`, ttc/stages/spec.py): a sharded stage is an array
of `--shards` tasks (slurm/stage.sbatch adds `--shard i --num_shards n`) and a merge job; a
trainer runs under torchrun on its nodes (slurm/train.sbatch); anything else is one task. Stages
already DONE are not submitted, and every stage's config is built (and so checked) before the
first sbatch.

Each job asks for its stage's resources (ttc/pipeline/resources.py: GPUs, CPUs, memory, time by
class, from the recipe's `resources:`; merges and the report are CPU jobs), and runs the Python
that submitted it (PYTHON exported: the venv's, not whatever the node has). Partition and account
come from the caller's SBATCH_* variables. Job logs go to `<run_dir>/logs/`. Paths in the recipe
are relative to the folder it is submitted from (the jobs run there).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from data.config import ConfigError
from ttc.pipeline.graph import upstream
from ttc.pipeline.resources import Resources
from ttc.pipeline.run import Run

log = logging.getLogger(__name__)
SLURM = Path(__file__).resolve().parents[2] / "slurm"


class Submitter:
    """sbatch, or (dry run) the command printed with a made-up job id."""

    def __init__(self, dry_run: bool):
        self.dry_run, self.ids, self.asked = dry_run, [], []

    def __call__(
        self,
        script: str,
        args: Sequence[str],
        after: Sequence[str] = (),
        resources: Resources = Resources(),
        env: Sequence[str] = (),
        **options: str,
    ) -> str:
        options = {
            **options,
            **resources.sbatch_options(),
            "export": ",".join(["ALL", f"PYTHON={sys.executable}", *env]),
        }
        flags = [
            "--parsable",
            "--kill-on-invalid-dep=yes",
            *(f"--{k.replace('_', '-')}={v}" for k, v in options.items()),
        ]
        if after:
            flags.append(f"--dependency=afterok:{':'.join(after)}")
        command = ["sbatch", *flags, str(SLURM / script), *args]
        if self.dry_run:
            print(" ".join(command), file=sys.stderr)
            job = str(len(self.ids) + 1)
        else:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise ConfigError(f"sbatch failed ({done.returncode}): {done.stderr.strip()}")
            job = done.stdout.strip().split(";")[0]
        self.ids.append(job)
        self.asked.append((options.get("job_name", script), resources))
        return job

    def table(self) -> str:
        """What each job asks of the cluster (printed by --dry-run)."""
        rows = [
            f"| {name} | {r.nodes} | {r.gpus} | {r.cpus or '-'} | {r.mem or '-'} | {r.time or '-'} |"
            for name, r in self.asked
        ]
        return "\n".join(["| job | nodes | GPUs/node | CPUs | mem | time |", "|---|---|---|---|---|---|", *rows])


def submit(run: Run, flags: Sequence[str], shards: int = 1, dry_run: bool = False) -> list[str]:
    """Every chosen stage not done yet, then the report; returns the job ids in order. `flags`:
    the recipe and overrides every job gets (with an absolute --config and --run_dir)."""
    if shards < 1:
        raise ConfigError(f"--shards must be >= 1, got {shards}")
    todo = [(s, values) for s in run.chosen() if not run.done(s, values := run.settings(s))]
    for s, values in todo:
        run.build(s, values)  # every error before any job
    submitted = {s.name for s, _ in todo}
    cpu = run.cfg.resources.cpu  # merges and the report
    sbatch, jobs, port = Submitter(dry_run), {}, 29500
    run.write_plan()
    logs = run.run_dir.resolve() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for s, _ in todo:
        after = [jobs[name] for name in sorted(upstream(s, run.cfg.from_scratch)) if name in submitted]
        missing = [
            name
            for name in upstream(s, run.cfg.from_scratch)
            if name not in submitted and name not in run.trained and not (run.dir(name) / "DONE").exists()
        ]
        if missing:
            raise ConfigError(f"{s.name} reads {', '.join(sorted(missing))}, which is neither done nor submitted")
        args = ["pipeline", *flags, "--stage", s.name]
        log_file = f"{logs}/{s.name}-%j.out"
        asks = run.resources(s)
        spec = s.spec()
        if spec.sharded:
            array = sbatch(
                "stage.sbatch",
                args,
                after,
                asks,
                job_name=f"ttc-{s.name}",
                array=f"0-{shards - 1}",
                output=f"{logs}/{s.name}-%A_%a.out",
            )
            jobs[s.name] = sbatch(
                "stage.sbatch",
                [*args, "--merge", "--num_shards", str(shards)],
                [array],
                cpu,
                job_name=f"ttc-{s.name}-merge",
                output=log_file,
            )
        elif spec.launch == "trainer":
            port += 1  # a rendezvous port of its own
            jobs[s.name] = sbatch(
                "train.sbatch", args, after, asks, [f"MASTER_PORT={port}"], job_name=f"ttc-{s.name}", output=log_file
            )
        else:
            jobs[s.name] = sbatch("stage.sbatch", args, after, asks, job_name=f"ttc-{s.name}", output=log_file)
    sbatch(
        "stage.sbatch",
        ["report", str(run.run_dir)],
        list(jobs.values()),
        cpu,
        job_name="ttc-report",
        output=f"{logs}/report-%j.out",
    )
    if dry_run:
        print(sbatch.table(), file=sys.stderr)
    return sbatch.ids
