import pytest

from ttc.pipeline import cli


def test_merge_names_the_sharded_stages_only(capsys):
    for argv in (["merge"], ["merge", "solve"]):
        with pytest.raises(SystemExit) as exit:
            cli.main(argv)
        assert exit.value.code == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith("ttc merge: ttc merge <") and line.endswith("> --config recipe.yaml --num_shards n")
        sharded = line.split("<")[1].split(">")[0].split("|")
        assert sorted(sharded) == ["chains", "eval", "label", "sample", "trajectories"]


def test_unknown_command_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["smaple"])
    assert exit.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("ttc: unknown command 'smaple'; usage: ttc {train-lm,sample,")


def test_no_command_prints_the_usage(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main([])
    assert exit.value.code == 2 and "usage: ttc" in capsys.readouterr().err
