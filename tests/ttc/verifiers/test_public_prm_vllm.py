"""vLLM's pooling runner serves each public PRM kind with the step values transformers gives
(fp32 stand-ins, to 1e-4), from the same token ids, counted the same way in the ledger. One
engine at a time (30-45 s each on a CPU). A process with vLLM engines exits with status 0."""

import subprocess
import sys
from typing import TYPE_CHECKING, cast

import pytest

from data import toy
from data.prompts import PromptFormat
from ttc.verifiers.spec import VerifierConfig, load_verifier

if TYPE_CHECKING:
    from ttc.verifiers.hf_prm import HFVerifier
    from ttc.verifiers.vllm_prm import VLLMStepScorer


def solutions() -> tuple[list[str], list[list[str]]]:
    problems = [toy.generate(level, i, seed="public-prm-vllm") for level in (1, 3, 5) for i in range(2)]
    steps = [toy.solve(p.expression) for p in problems]
    return [p.question for p in problems] + ["Compute 12+34-15."], steps + [["=46-15", "=31", "\\boxed{31}"]]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["math-shepherd", "rlhflow", "qwen2.5-math-prm"])
def test_vllm_step_values_match_transformers(kind, standins):
    questions, steps = solutions()
    cfg = VerifierConfig(path=str(standins[kind]), kind=kind, dtype="float32")
    hf = load_verifier(cfg, PromptFormat())
    expected = hf.score(questions, steps)
    served = load_verifier(VerifierConfig(**{**vars(cfg), "backend": "vllm"}), PromptFormat())
    try:
        values = served.score(questions, steps)
        assert served.score([], []) == []
    finally:
        served.close()
    assert [len(v) for v in values] == [len(s) for s in steps]
    for got, want in zip(values, expected):
        assert got == pytest.approx(want, abs=1e-4)
    # one request per solution
    assert cast("VLLMStepScorer", served).forward_passes == cast("HFVerifier", hf).forward_passes == len(steps)
    assert served.tokens_scored == hf.tokens_scored > 0
    assert served.num_parameters == hf.num_parameters
    assert served.aggregation == hf.aggregation
    spread = [x for v in expected for x in v]
    assert max(spread) - min(spread) > 0.2  # the values vary: agreement is not 0.5 == 0.5


# An LM and a PRM on vLLM, used once and left open at exit (as a stage leaves them when it ends).
BUILD_AND_EXIT = """
import sys
from data.prompts import PromptFormat
from ttc.lm.spec import LMConfig, load_lm
from ttc.lm import GenerationRequest
from ttc.verifiers.spec import VerifierConfig, load_verifier
if __name__ == "__main__":
    lm = load_lm(LMConfig(model=sys.argv[1], backend="vllm"))
    prm = load_verifier(VerifierConfig(path=sys.argv[2], backend="vllm"), PromptFormat())
    [[done]] = lm.generate([GenerationRequest("Problem: Compute 12+34.\\\\nSolution:\\\\n", max_tokens=16)])
    assert prm.score(["Compute 12+34."], [[done.text]])
"""


@pytest.mark.slow
def test_process_with_vllm_engines_exits_cleanly(tmp_path, toy_base_path):
    """Engines left to vLLM's finalizers at interpreter teardown made `difficulty` abort (status
    134) in 1 of 2 runs, breaking the Slurm `afterok` chain: they are shut down before the exit."""
    script = tmp_path / "engines.py"
    script.write_text(BUILD_AND_EXIT)
    for _ in range(3):
        run = subprocess.run(
            [sys.executable, str(script), str(toy_base_path), str(toy_base_path.parent / "toy-prm")],
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert run.returncode == 0, run.stderr[-3000:]
