"""Model folders (and dataset snapshots): where a path or hub id is, and whether it can be the
model asked for, told in one line naming the setting before any weight is read.

`locate` finds a local path, or the snapshot of a hub id already in the Hugging Face cache:
nothing is downloaded at run time. `read_model_config` reads a model folder's config.json (a
`model_type` required). `check_model` refuses a folder that cannot be the model asked for: a cut
weights or tokenizer file, an architecture not of its model_type, a PRM folder where an LM is
expected. Errors are ConfigErrors naming the setting (`key`); a dataset's reader passes its own
error type (data/prm_bench.py: RecordError).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from data.config import ConfigError

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
TOKENIZER_JSON = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
)
RepoType = Literal["model", "dataset"]
# what a missing path should have been, and what a local one is called, by the kind of hub repository
EXPECTED = {
    "model": "; expected a save_pretrained folder or a hub id (org/name)",
    "dataset": " (expected a file, a folder or a dataset hub id)",
}
LOCAL = {"model": "folder", "dataset": "path"}


def snapshot(name: str, repo_type: RepoType = "model") -> Path | None:
    """The folder `hf download [--repo-type dataset] NAME` left in the Hugging Face cache, or None
    (`name` no hub id, or not fetched): nothing is downloaded."""
    if not HUB_ID.fullmatch(name):
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, repo_type=repo_type, local_files_only=True))
    except LocalEntryNotFoundError:
        return None


def locate(path_or_id: str, key: str, repo_type: RepoType = "model", error: type[Exception] = ConfigError) -> Path:
    """The local file or folder `path_or_id`, or the cached snapshot of a hub id of `repo_type`;
    else one `error` naming the setting `key` and how to fetch it."""
    path = Path(path_or_id).expanduser()
    if path.exists():
        return path
    if not HUB_ID.fullmatch(path_or_id):
        raise error(f"{key}: {path_or_id!r} does not exist{EXPECTED[repo_type]}")
    found = snapshot(path_or_id, repo_type)
    if found is None:
        from huggingface_hub import constants

        local, dataset = LOCAL[repo_type], repo_type == "dataset"
        raise error(
            f"{key}: {path_or_id!r} is neither a local {local} nor {'a dataset ' if dataset else ''}in the "
            f"Hugging Face cache ({constants.HF_HUB_CACHE}); nothing is downloaded at run time: fetch it "
            f"first (hf download {'--repo-type dataset ' if dataset else ''}{path_or_id}) or give a local {local}"
        )
    return found


def read_model_config(folder: Path | str, key: str) -> dict[str, Any]:
    """The config.json of the model folder `folder`, which must state its `model_type`; else one
    ConfigError naming the setting `key`."""
    config = Path(folder) / "config.json"
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{key}: {str(folder)!r} has no config.json; expected a save_pretrained folder") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"{key}: {config}: unreadable config.json ({e})") from e
    if not isinstance(settings, dict) or not settings.get("model_type"):
        raise ConfigError(f"{key}: {config}: no 'model_type' (not a save_pretrained config)")
    return settings


def check_model(path: str, key: str = "model", lm: bool = False) -> Path:
    """The folder of the model `path` (`locate`), checked to hold a config.json with a
    `model_type` (`read_model_config`), whole weights (`check_weights`) and a tokenizer, its
    architecture of its `model_type`'s family (`check_architecture`), and, with `lm` (a policy,
    reviser or other model that generates or whose likelihood is read), a causal LM and no PRM of
    ours; else one ConfigError naming `key`."""
    folder = locate(path, key)
    if not folder.is_dir():
        raise ConfigError(f"{key}: {path!r} is a file; expected a save_pretrained folder")
    settings = read_model_config(folder, key)
    if not any((folder / name).is_file() for name in WEIGHTS) and not any(folder.glob("*.safetensors")):
        raise ConfigError(f"{key}: {path!r} has no weights (expected one of {', '.join(WEIGHTS)})")
    if not any((folder / name).is_file() for name in TOKENIZER):
        raise ConfigError(f"{key}: {path!r} has no tokenizer (expected one of {', '.join(TOKENIZER)})")
    for file in (folder / name for name in TOKENIZER_JSON):
        if file.is_file():  # a cut copy fails here, named, not as a bare JSON error when the tokenizer loads
            try:
                json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise ConfigError(f"{key}: {file}: unreadable ({e}): copy the model folder again") from e
    from data.prm_format import FORMAT_FILE  # our PRMs carry it (imported here: data.prm_format reads prompts)

    if lm and (folder / FORMAT_FILE).is_file():
        raise ConfigError(
            f"{key}: {folder} is a PRM folder ({FORMAT_FILE}), not a policy or other language "
            f"model: give it as a verifier's path"
        )
    check_architecture(settings, folder / "config.json", key, lm)
    check_weights(folder, key)
    return folder


def architecture_families() -> tuple[dict[str, set[str]], set[str], dict[str, str]]:
    """transformers' auto classes, read from its mapping tables (no model is built): each
    architecture's model_types, the causal-LM architectures, and the causal LM of each model_type."""
    from transformers.models.auto import modeling_auto

    families: dict[str, set[str]] = {}
    for name in dir(modeling_auto):
        if name.endswith("_MAPPING_NAMES") and isinstance(table := getattr(modeling_auto, name), dict):
            for model_type, classes in table.items():
                for cls in classes if isinstance(classes, (list, tuple)) else [classes]:
                    families.setdefault(cls, set()).add(model_type)
    causal = dict(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
    return families, set(causal.values()), causal


def check_architecture(settings: dict, config: Path, key: str, lm: bool) -> None:
    """The config's `architectures` belong to its `model_type` (llama weights under `model_type:
    bert` load as a BERT whose every weight is unexpected: random text), and, for an `lm`, the
    model_type has a causal LM (what AutoModelForCausalLM builds) and the architectures name one.
    A model with its own code (`auto_map`) or an architecture transformers does not know (a
    public PRM's) is left to its loader."""
    if "auto_map" in settings:
        return
    model_type, archs = settings["model_type"], settings.get("architectures") or []
    if not archs and not lm:
        return
    families, causal_archs, causal_of = architecture_families()
    for arch in archs:
        if arch in families and model_type not in families[arch]:
            raise ConfigError(
                f"{key}: {config}: architecture {arch} is of model_type "
                f"{'/'.join(sorted(families[arch]))}, but the config says model_type {model_type!r}: "
                f"the weights would load as another model (fix config.json)"
            )
    if not lm:
        return
    if model_type not in causal_of:
        raise ConfigError(
            f"{key}: {config}: model_type {model_type!r} has no causal LM in transformers: "
            f"not a language model this role can run"
        )
    known = [arch for arch in archs if arch in families]
    if known and not set(known) & causal_archs:
        raise ConfigError(
            f"{key}: {config}: architecture {', '.join(known)} is not a causal LM "
            f"(expected e.g. {causal_of[model_type]}): not a language model this role can run"
        )


def check_weights(folder: Path, key: str) -> None:
    """Every safetensors file of `folder` whole, by its header alone (cheap: 8 bytes give the
    header's length, the JSON header each tensor's byte range): a cut or corrupt copy is one
    line naming the file, not a loader's traceback. The shards an index names must exist."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"{key}: {index}: unreadable index ({e}): copy the model folder again") from e
        if missing := sorted(s for s in shards if not (folder / s).is_file()):
            raise ConfigError(f"{key}: {index} names shards that are missing: {', '.join(missing)}")
    for file in sorted(folder.glob("*.safetensors")):
        if problem := safetensors_problem(file):
            raise ConfigError(f"{key}: {file}: {problem}: copy the model folder again")


def safetensors_problem(file: Path) -> str | None:
    """What is wrong with the safetensors file `file` by its header, or None."""
    size = file.stat().st_size
    with open(file, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return f"not a safetensors file ({size} bytes, no header)"
        length = int.from_bytes(head, "little")
        if 8 + length > size:
            return f"corrupt or cut safetensors file (its header says {length} bytes; the file has {size})"
        try:
            header = json.loads(handle.read(length))
            end = max(
                (int(entry["data_offsets"][1]) for name, entry in header.items() if name != "__metadata__"), default=0
            )
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            return f"corrupt safetensors header ({type(e).__name__}: {e})"
    expected = 8 + length + end
    if size != expected:
        return f"{'cut' if size < expected else 'corrupt'} safetensors file ({size} bytes; its header says {expected})"
    return None
