"""The PRM text format, shared by PRM training (train/prm.py) and scoring (ttc/verifiers).

Math-Shepherd style: a step tag token after each step; at the tag the model predicts a good or
a bad label token, and the two-way softmax over them is the step's value. The tag and label
tokens are configurable and must each be one token of the tokenizer; the toy world, whose
text is full of `+` and `-`, uses dedicated special tokens.

Text is tokenized piece by piece (prompt, then each step, its tag, a newline) so the tag is
always exactly one token at a known position, whatever the tokenizer would merge.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

FORMAT_FILE = "prm_format.json"


def encode_steps(tokenizer, prompt_ids: list[int], steps: list[str], separator: list[int]) -> tuple[list[int], list[int]]:
    """Token ids of the prompt, then each step followed by `separator`; and the position just
    past each step's own tokens (where a PRM's tag goes)."""
    ids, ends = list(prompt_ids), []
    for step in steps:
        ids += tokenizer.encode(step, add_special_tokens=False)
        ends.append(len(ids))
        ids += separator
    return ids, ends


@dataclass(frozen=True)
class PRMFormat:
    step_tag: str = "<step>"
    good: str = "<good>"
    bad: str = "<bad>"

    def token_ids(self, tokenizer, where: str = "tokenizer") -> tuple[int, int, int]:
        """(tag, good, bad) ids; a clear error if any is not a single known token."""
        ids = []
        for name in ("step_tag", "good", "bad"):
            token = getattr(self, name)
            encoded = tokenizer.encode(token, add_special_tokens=False)
            if len(encoded) != 1 or encoded[0] == tokenizer.unk_token_id:
                raise ValueError(f"{where}: PRM {name} {token!r} is not a single token of its vocabulary")
            ids.append(encoded[0])
        return ids[0], ids[1], ids[2]

    def encode(self, tokenizer, prompt: str, steps: list[str]) -> tuple[list[int], list[int]]:
        """Token ids of prompt + steps with a tag after each step, and the tag positions."""
        tag = self.token_ids(tokenizer)[0]
        newline = tokenizer.encode("\n", add_special_tokens=False)
        return encode_steps(tokenizer, tokenizer(prompt)["input_ids"], steps, [tag] + newline)

    def save(self, folder: Path | str) -> None:
        (Path(folder) / FORMAT_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path | str) -> "PRMFormat":
        path = Path(folder) / FORMAT_FILE
        try:
            return cls(**json.loads(path.read_text()))
        except OSError as e:
            raise ValueError(f"{path}: not a ttc PRM folder (no {FORMAT_FILE})") from e
        except (TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: bad PRM format ({e})") from e
