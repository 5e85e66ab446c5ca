"""The PRM text format, shared by PRM training (train/prm.py) and scoring (ttc/verifiers).

Math-Shepherd style: a step tag token after each step; at the tag the model predicts a good or
a bad label token, and the two-way softmax over them is the step's value. The tag and label
tokens are configurable and must each be one token of the tokenizer; the toy world, whose
text is full of `+` and `-`, uses dedicated special tokens.

Text is tokenized piece by piece (prompt, then each step, its tag, a newline) so the tag is
always exactly one token at a known position, whatever the tokenizer would merge.

`prm_format.json` beside the checkpoint records the tokens and the prompt format the PRM was
trained on (`prompt`; a few-shot prompt's shots file is copied beside it, so the folder is
self-contained): every scorer reads the PRM on that prompt, whatever prompt sampled the
solution, which is the input it learned. A folder written before the prompt was recorded is
read with the trainer's default (zero-shot) prompt, with a warning.

It also records the labels the PRM learned (`labels`: the recipe, train/prm.py) and the
aggregation that follows from them (`aggregation`, every scorer's default for this PRM): `last`
for soft MC labels (a value estimate: the last step's is the solution's), `min` for hard or
thresholded ones (a step judged wrong sinks the solution). A folder written before it was
recorded was trained on soft labels: `last`.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from data.prompts import PromptFormat

log = logging.getLogger(__name__)
FORMAT_FILE = "prm_format.json"
SHOTS_FILE = "prompt_shots.jsonl"  # a few-shot training prompt's shots, copied beside the checkpoint
Aggregation = Literal["last", "min", "prod"]  # a solution's step values -> one score (ttc/verifiers)
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)


def encode_steps(
    tokenizer, prompt_ids: list[int], steps: list[str], separator: list[int]
) -> tuple[list[int], list[int]]:
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

    def save(
        self,
        folder: Path | str,
        prompt: PromptFormat,
        labels: dict[str, Any] | None = None,
        aggregation: Aggregation = "last",
    ) -> None:
        """prm_format.json: these tokens; `prompt`, the prompt format the PRM was trained on; the
        `labels` it learned (their recipe) and its default `aggregation`."""
        record = {**asdict(self), "prompt": prompt_record(prompt, folder), "aggregation": aggregation}
        (Path(folder) / FORMAT_FILE).write_text(
            json.dumps(record | ({"labels": labels} if labels else {}), indent=2) + "\n"
        )

    @classmethod
    def load(cls, folder: Path | str) -> "PRMFormat":
        fields = read_format_file(folder)
        for recorded in ("prompt", "labels", "aggregation"):
            fields.pop(recorded, None)
        try:
            return cls(**fields)
        except TypeError as e:
            raise ValueError(f"{Path(folder) / FORMAT_FILE}: bad PRM format ({e})") from e


def read_format_file(folder: Path | str) -> dict[str, Any]:
    path = Path(folder) / FORMAT_FILE
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"{path}: not a ttc PRM folder (no {FORMAT_FILE})") from e
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: bad PRM format ({e})") from e


def prompt_record(prompt: PromptFormat, folder: Path | str) -> dict[str, Any]:
    """`prompt` as prm_format.json records it: the shots file it reads copied into `folder` and
    named relative to it; no shots file when it reads none (a path that would only mislead)."""
    record = asdict(prompt)
    del record["shots_file"]
    if prompt.num_shots and not prompt.chat_template:
        shutil.copyfile(prompt.shots_file, Path(folder) / SHOTS_FILE)
        record["shots_file"] = SHOTS_FILE
    return record


def trained_prompt(folder: Path | str) -> PromptFormat:
    """The prompt format the PRM in `folder` was trained on (its prm_format.json's `prompt`). A
    folder from before it was recorded gets the trainer's default, zero-shot, with a warning."""
    path = Path(folder) / FORMAT_FILE
    record = read_format_file(folder).get("prompt")
    if record is None:
        log.warning(
            "%s: no 'prompt' recorded (written before train/prm.py recorded it): scoring with the "
            "trainer's default zero-shot prompt; if the PRM was trained on another, add its recipe's "
            "`prompt` section to this file",
            path,
        )
        return PromptFormat()
    if not isinstance(record, dict):
        raise ValueError(f"{path}: field 'prompt': expected a mapping, got {record!r}")
    if "shots_file" in record:  # relative to the folder (as saved); an absolute path stays
        record = {**record, "shots_file": str(Path(folder) / record["shots_file"])}
    try:
        return PromptFormat(**record)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: field 'prompt': {e}") from e


def trained_aggregation(folder: Path | str) -> Aggregation:
    """The default aggregation of the PRM in `folder`, as training recorded it (`last` before it was)."""
    how = read_format_file(folder).get("aggregation", "last")
    if how not in AGGREGATIONS:
        raise ValueError(
            f"{Path(folder) / FORMAT_FILE}: field 'aggregation': expected one of {', '.join(AGGREGATIONS)}, got {how!r}"
        )
    return how
