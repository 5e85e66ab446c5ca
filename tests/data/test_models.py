"""data/models: one locator for model folders and dataset snapshots (local, or a hub id already in
the cache; nothing downloaded), one reader of a model's config.json; each error names the setting."""

import pytest

from data.config import ConfigError
from data.models import check_model, locate, read_model_config, snapshot
from data.records import RecordError


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


def test_a_local_path_is_itself_and_a_missing_one_names_the_setting(tmp_path, empty_cache):
    (tmp_path / "f.json").write_text("[]")
    assert locate(str(tmp_path / "f.json"), "data", "dataset", RecordError) == tmp_path / "f.json"
    with pytest.raises(ConfigError, match=r"^lm.model: '.*nope' does not exist; expected a save_pretrained folder"):
        locate(str(tmp_path / "nope"), "lm.model")
    with pytest.raises(RecordError, match=r"^data: '.*nope' does not exist \(expected a file, a folder or a dataset"):
        locate(str(tmp_path / "nope"), "data", "dataset", RecordError)


def test_a_hub_id_not_in_the_cache_says_how_to_fetch_it(empty_cache):
    assert snapshot("org/name", "dataset") is None and snapshot("not an id") is None
    with pytest.raises(
        ConfigError,
        match=r"^prm.path: 'org/name' is neither a local folder nor in the Hugging Face "
        r"cache .*\(hf download org/name\) or give a local folder$",
    ):
        locate("org/name", "prm.path")
    with pytest.raises(
        RecordError,
        match=r"^data: 'org/set' is neither a local path nor a dataset in the Hugging Face "
        r"cache .*\(hf download --repo-type dataset org/set\) or give a local path$",
    ):
        locate("org/set", "data", "dataset", RecordError)


def test_a_model_config_states_its_model_type(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama", "max_position_embeddings": 64}')
    assert read_model_config(tmp_path, "model")["max_position_embeddings"] == 64
    (tmp_path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    with pytest.raises(ConfigError, match=r"^path: .*config.json: no 'model_type'"):
        read_model_config(str(tmp_path), "path")
    with pytest.raises(ConfigError, match=r"^path: '.*other' has no config.json"):
        read_model_config(tmp_path / "other", "path")
    with pytest.raises(ConfigError, match=r"^model: .*config.json: no 'model_type'"):
        check_model(str(tmp_path))  # the checker reads it the same way
