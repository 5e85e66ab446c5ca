"""vLLM's pooling runner serves each public PRM kind with the step values transformers gives
(fp32 stand-ins, to 1e-4), from the same token ids, counted the same way in the ledger. One
engine at a time (30-45 s each on a CPU)."""

import pytest
from verifier_standins import standins  # noqa: F401 (fixture)

from data import toy
from data.prompts import PromptFormat
from ttc.verifiers.spec import VerifierConfig, load_verifier


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
    assert served.forward_passes == hf.forward_passes == len(steps)  # one request per solution
    assert served.tokens_scored == hf.tokens_scored > 0
    assert served.num_parameters == hf.num_parameters
    assert served.aggregation == hf.aggregation
    spread = [x for v in expected for x in v]
    assert max(spread) - min(spread) > 0.2  # the values vary: agreement is not 0.5 == 0.5
