"""Kind `prm`: our own PRM format (data/prm_format.py), what train/prm.py writes.

The tag and label tokens and the prompt format come from prm_format.json beside the checkpoint,
not from the config: the solution follows the prompt the PRM was trained on, whatever prompt (the
`prompt` argument, the policy's) sampled it; a PRM reads the input it learned, and a few-shot
policy prompt would cost it a long prefix it never saw. The value of a step is read at its tag.
Its default aggregation is the one training recorded from its labels (data/prm_format.py): `last`,
the paper's for soft MC labels, or `min` for hard ones.
"""

from __future__ import annotations

from data.prm_format import Aggregation, PRMFormat, trained_aggregation, trained_prompt
from ttc.verifiers.kind import Encoded, LabelTokenKind, Positions, VerifierError, tag_positions


class OurPRM(LabelTokenKind):
    name = "prm"
    aggregation = "last"

    def __init__(self, path, options, prompt):  # `prompt`, the policy's, is not read (module docstring)
        try:
            self.format, trained = PRMFormat.load(path), trained_prompt(path)
        except ValueError as e:
            raise VerifierError(f"path: {e}; kind prm expects a folder written by train/prm.py") from e
        super().__init__(path, options, trained)

    @classmethod
    def default_aggregation(cls, folder: str) -> Aggregation:
        try:
            return trained_aggregation(folder)
        except ValueError as e:
            raise VerifierError(f"path: {e}; kind prm expects a folder written by train/prm.py") from e

    def bind(self, tokenizer) -> None:
        try:
            self.tag, *_ = self.format.token_ids(tokenizer, where=self.path)
        except ValueError as e:
            raise VerifierError(str(e)) from e
        super().bind(tokenizer)

    def label_ids(self) -> tuple[int, int]:
        _, good, bad = self.format.token_ids(self.tokenizer, where=self.path)
        return good, bad

    def encode(self, question: str, steps: list[str]) -> Encoded[Positions]:
        ids, _ = self.format.encode(self.tokenizer, self.prompt.render(question, self.tokenizer), steps)
        return ids, tag_positions(ids, self.tag)  # a tag inside a step's text shows as one too many
