"""How a stage samples: the sampling settings every sampling stage shares, and the grading of a
completion into a `Sample` record (what `ttc sample`, best-of-N and revision chains all keep)."""

from __future__ import annotations

from dataclasses import dataclass, field

from data.grading import is_correct
from data.records import Problem, Sample
from data.shards import derive_seed
from data.steps import extract_answer, split_steps
from ttc.lm import Completion, GenerationRequest, check_sampling


@dataclass
class SamplingConfig:
    n: int = 16
    temperature: float = 0.8
    top_p: float = 1.0
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)  # end-of-solution markers, cut from the text
    seed: int = 0

    def __post_init__(self) -> None:
        check_sampling(self.n, self.temperature, self.top_p, self.max_tokens, self.stop)

    def request(self, prompt: str, problem_id: str) -> GenerationRequest:
        """`n` samples of one problem, seeded by (seed, problem id) alone."""
        return GenerationRequest(
            prompt,
            self.n,
            self.temperature,
            self.top_p,
            self.max_tokens,
            tuple(self.stop),
            seed=derive_seed(self.seed, problem_id),
        )


def grade(problem: Problem, index: int, completion: Completion, stops: list[str]) -> Sample:
    """The completion as a graded sample: a hit stop string cut, steps split, answer checked."""
    text = completion.text
    for stop in stops if completion.finish_reason == "stop" else ():
        text = text.removesuffix(stop)
    answer = extract_answer(text)
    return Sample(
        problem_id=problem.id,
        index=index,
        text=text,
        steps=split_steps(text),
        answer=answer,
        correct=is_correct(answer, problem.answer, problem.source),
        num_tokens=completion.num_tokens,
        finish_reason=completion.finish_reason,
    )
