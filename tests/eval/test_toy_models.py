import pytest

from data.problems import DataConfig
from eval import toy_models

pytestmark = pytest.mark.e2e  # the toy models


def test_level_table_on_the_base_model(tmp_path, toy_base_path):
    cfg = toy_models.ToyModelsConfig(
        models=[str(toy_base_path)],
        output_dir=str(tmp_path),
        data=DataConfig(levels=[1, 5], per_level=4),
        k=4,
    )
    text = toy_models.main(cfg)
    table = toy_models.level_table(cfg, str(toy_base_path))  # reruns reuse the finished samples
    assert set(table) == {1, 5}
    for row in table.values():
        assert set(row) == {"greedy", "pass@1", "pass@4", "maj@4"}
        assert 0 <= row["pass@1"] <= row["pass@4"] <= 1
    assert table[1]["greedy"] == 1.0  # L1 is solved by the shipped base model
    assert "| toy-base |" in text and (tmp_path / "table.json").exists()
