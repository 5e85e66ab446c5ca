import pytest

from ttc import cli


def test_merge_names_the_sharded_stages_only():
    for argv in (["merge"], ["merge", "solve"]):
        with pytest.raises(SystemExit, match=r"ttc merge <sample\|label\|trajectories\|eval> --config"):
            cli.main(argv)


def test_unknown_command_prints_the_usage():
    with pytest.raises(SystemExit, match="usage: ttc"):
        cli.main(["smaple"])
