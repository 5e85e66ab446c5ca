"""The fitted compute-optimal policy, as one versioned artifact: eval/compute_optimal.py fits and
saves it (`policy_<bins>.json`), `ttc solve` (ttc/policy/planner.py) loads and runs it.

Per difficulty bin and grid budget, the method compute-optimal chose on all of the bin's
questions: an `Entry`, with the settings to run it with. An `allocated` policy
(`policy_<bins>_allocated.json`) holds instead, per bin and *average* budget B, the method and
its own budget of the allocation across bins (eval/compute_optimal.py): its params' n is that
bin's own budget, above B on hard bins and below it on easy ones, and `ttc solve` runs it there
(ttc/policy/planner.py); files written before the field read as not allocated. A policy fit on
predicted bins also holds what binning a new question takes: the score `edges` of those bins
(data/bins.py) and the sampling settings of the `probe` whose mean final-step score is compared
with them. The probe's samples join the pool of an entry whose strategy continues drawn pools (`Strategy.extend`:
best-of-N's), so such an entry must sample as the probe does (`BestOfNConfig.pool_settings`); a policy where it does
not is refused on construction.

Provenance (`models`, version 2): the models its table was measured with, by role (`lm`, `prm`,
and `reviser`, `orm` for revision lines), each as the path the `ttc eval` run named and a
`digest` of the folder (`model_digest`), or None where that folder could not be read when the
policy was fit. `ttc solve` refuses a policy whose recorded digest differs from that of the model
its config names in the same role (`check_models`): the choices and the edges are a property of
that PRM and that LM. The digest is cheap (a model of many GiB is not read whole): config.json
(and prm_format.json) in full, and per weights file its name, size and SAMPLES evenly spaced
chunks of CHUNK bytes (the safetensors header among them). Two trainings differ in nearly every
weight, so a chunk differs; a copied or moved folder keeps its digest. It is no integrity check
against a deliberate edit. A version-1 file (before `models`) loads with a warning and is not
checked; so is a policy fit from results whose settings file was missing (`models` None).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, cast

from data import artifacts
from data.bins import KINDS
from data.codec import DecodeError, MissingField, Mode, decode
from data.config import ConfigError, build_dataclass
from data.models import locate
from data.prompts import PromptFormat
from data.records import RecordError
from ttc.search import BestOfNConfig, SearchConfig
from ttc.strategies import STRATEGIES  # all of them: what `ttc eval` runs, a policy picks

log = logging.getLogger(__name__)
FORMAT, VERSION = "ttc.policy", 2  # 2: `models`, the provenance; 1 still loads (unknown provenance)
BUDGET_FIELDS = ("generations", "budget")
# what a policy's models are recorded as (a strategy's `models` are two of them), and the setting of `ttc solve`
# that names each
ROLES = {"lm": "lm.model", "prm": "prm.path", "reviser": "reviser.model", "orm": "orm.path"}
SAMPLES, CHUNK = 16, 1 << 16  # model_digest: chunks read per weights file, and their size
WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin")
SMALL_FILES = ("config.json", "prm_format.json")  # read whole when present


def model_digest(path: str, key: str = "model") -> str:
    """What identifies the model `path` (a folder or a cached hub id; else a ConfigError naming
    `key`) without reading all its weights: see the module docstring."""
    folder = locate(path, key)
    digest = hashlib.blake2b(digest_size=16)
    for name in SMALL_FILES:
        if (folder / name).is_file():
            digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    for file in sorted({f for pattern in WEIGHT_GLOBS for f in folder.glob(pattern)}):
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with open(file, "rb") as handle:
            for i in range(SAMPLES):
                handle.seek(i * max(size - CHUNK, 0) // (SAMPLES - 1))
                digest.update(handle.read(CHUNK))
    return f"blake2b-sampled:{digest.hexdigest()}"


def identify(path: str, key: str) -> dict[str, str | None]:
    """A role's record: the path as named and its digest, None (with a warning) if it cannot be read now."""
    try:
        return {"path": path, "digest": model_digest(path, key)}
    except (ConfigError, OSError) as e:
        log.warning("%s: cannot identify the model (%s): the policy records its path alone, unchecked", key, e)
        return {"path": path, "digest": None}


@dataclass(frozen=True)
class Entry:
    """The method a policy runs in one bin at one grid budget."""

    method: str  # compute-optimal's label (a `ttc eval` line's name)
    strategy: str  # a key of STRATEGIES
    params: dict[str, Any]  # its settings at this budget, n included: no seed, nothing derived
    accuracy: float  # on all of the bin's questions, at this budget

    def config(self, where: str, n: int | None = None) -> SearchConfig:
        """Its strategy's config from the settings (at `n` when given); the caller sets seed and prompt."""
        cls = STRATEGIES[self.strategy].config
        return build_dataclass(cls, {**self.params, **({} if n is None else {"n": n})}, where, {})


@dataclass(frozen=True)
class Policy:
    kind: str  # the bins it was fit on: one of data.bins.KINDS
    table: dict[int, dict[int, Entry]]  # bin (1 = easiest) -> grid budget -> entry
    budget_field: str = "generations"  # what a grid budget counts: one of BUDGET_FIELDS
    edges: list[float] | None = None  # predicted: edges[b-1] separates bins b and b+1 (data/bins.py)
    probe: dict[str, Any] | None = None  # predicted: how the probe samples (BestOfNConfig.pool_settings)
    allocated: bool = False  # table budgets are average budgets; each entry runs at its own n
    models: dict[str, dict[str, Any]] | None = None  # role -> {path, digest}: what it was fit with; None: unknown

    def __post_init__(self) -> None:
        for role, model in (self.models or {}).items():
            if (
                role not in ROLES
                or not isinstance(model, dict)
                or set(model) != {"path", "digest"}
                or not isinstance(model["path"], str)
                or not isinstance(model["digest"], (str, type(None)))
            ):
                raise ValueError(
                    f"models.{role}: expected a role of {', '.join(ROLES)} with a path and a digest "
                    f"(or null), got {model!r:.80}"
                )
        if self.kind not in KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.budget_field not in BUDGET_FIELDS:
            raise ValueError(f"budget_field: {self.budget_field!r} is not one of {', '.join(BUDGET_FIELDS)}")
        bins = sorted(self.table)
        if not bins or bins != list(range(1, len(bins) + 1)):
            raise ValueError(f"table: bins {bins}, expected 1..K")
        sampling = None
        if self.kind == "predicted":
            if self.edges is None or len(self.edges) != len(bins) - 1:
                raise ValueError(
                    f"edges: {self.edges}, expected the {len(bins) - 1} edges of {len(bins)} predicted bins"
                )
            if any(a < b for a, b in zip(self.edges, self.edges[1:])):
                raise ValueError(f"edges: {self.edges} should not increase (bin 1 = highest score)")
            if self.probe is None:
                raise ValueError("probe: a policy fit on predicted bins needs the probe's sampling settings")
            sampling = self.probe_config(1, 0, PromptFormat()).pool_settings()
            extra = sorted(set(self.probe) - set(sampling))
            if extra:
                raise ValueError(f"probe: {extra} are not sampling settings (known: {', '.join(sampling)})")
        elif self.edges is not None or self.probe is not None:
            raise ValueError("edges, probe: a policy fit on oracle bins has neither (an oracle bin needs the answer)")
        for b in bins:
            if not self.table[b]:
                raise ValueError(f"table.{b}: no budget")
            for budget, entry in self.table[b].items():
                where = f"table.{b}.{budget}"
                if entry.strategy not in STRATEGIES:
                    raise ValueError(f"{where}.strategy: {entry.strategy!r} is not one of {', '.join(STRATEGIES)}")
                # an extendable strategy's config is best-of-N's (or a subclass)
                cfg = cast(BestOfNConfig, entry.config(f"{where}.params"))
                if (
                    sampling is not None
                    and STRATEGIES[entry.strategy].extend is not None
                    and cfg.pool_settings() != sampling
                ):
                    raise ValueError(
                        f"{where}.params: best-of-N samples with {cfg.pool_settings()}, the probe "
                        f"(which joins its pool) with {sampling}"
                    )

    def bin_of(self, score: float) -> int:
        """A probe's bin, 1 = easiest: the number of edges the score falls below, plus one."""
        if self.edges is None:
            raise ValueError(f"a policy fit on {self.kind} bins cannot bin a new question")
        return 1 + sum(score < e for e in self.edges)

    def entry(self, bin_: int, remaining: int) -> Entry | None:
        """The bin's entry at the largest grid budget <= remaining; None below its grid."""
        fitting = [b for b in self.table[bin_] if b <= remaining]
        return self.table[bin_][max(fitting)] if fitting else None

    def probe_config(self, n: int, seed: int, prompt: PromptFormat) -> BestOfNConfig:
        """n samples as the probe draws them (best-of-N weighted over them, with default aggregation)."""
        if self.probe is None:
            raise ValueError(f"a policy fit on {self.kind} bins has no probe")
        cfg = build_dataclass(BestOfNConfig, {**self.probe, "n": n}, "probe", {})
        return dataclasses.replace(cfg, seed=seed, prompt=prompt)

    def check_models(self, named: Mapping[str, str | None], where: str) -> None:
        """Refuse (one ConfigError) a model named in a role the policy was fit with another in.
        `named`: role -> the path a config names (None: not configured, not checked)."""
        if self.models is None:
            log.warning(
                "%s: the policy does not record the models it was fit with: not checked against %s",
                where,
                ", ".join(f"{r} {p}" for r, p in named.items() if p),
            )
            return
        for role, path in named.items():
            fitted = self.models.get(role)
            if path is None or fitted is None:
                continue
            if fitted["digest"] is None:
                log.warning(
                    "%s: %s %s was not identified when the policy was fit: not checked", where, role, fitted["path"]
                )
            elif model_digest(path, ROLES[role]) != fitted["digest"]:
                raise ConfigError(
                    f"{where}: fitted with {role} {fitted['path']}, but the config names {role} {path} "
                    f"(another model: its digest differs); refit the policy on this model's results "
                    f"(ttc eval, ttc compute-optimal) or name the {role} it was fit with"
                )

    def save(self, path: Path | str) -> None:
        artifacts.save(path, FORMAT, VERSION, dataclasses.asdict(self))

    @classmethod
    def load(cls, path: Path | str) -> "Policy":
        try:
            fields = artifacts.load(path, FORMAT, VERSION)
        except RecordError as newer:
            try:
                fields = artifacts.load(path, FORMAT, 1)  # before `models`: its provenance is unknown
            except RecordError:
                raise newer from None
            log.warning(
                "%s: a version-1 policy, which does not record the models it was fit with: "
                "`ttc solve` cannot check them (refit it to record them)",
                path,
            )
        try:
            table = decode(dict[int, dict[int, Entry]], fields.get("table"), "table", Mode.ARTIFACT)
        except MissingField as e:  # worded as a record's: the entry, then its field
            entry, _, name = e.at.rpartition(".")
            raise RecordError(f"{path}: {entry}: missing field '{name}' (Entry)") from None
        except DecodeError as e:
            raise RecordError(f"{path}: {e}") from e
        return artifacts.build(cls, {**fields, "table": table}, path)
