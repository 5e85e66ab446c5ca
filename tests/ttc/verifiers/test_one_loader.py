"""Every stage that scores loads its verifier through the one spec (ttc/verifiers/spec.py): no
module outside ttc/verifiers builds a scorer class itself."""

import ast

from tests.support.runs import REPO

SCORERS = {"HFPRM", "VLLMPRM", "LikelihoodVerifier", "Likelihood", "MathShepherd", "RLHFlow", "QwenPRM"}


def test_no_stage_builds_a_scorer_directly():
    found = []
    for top in ("data", "ttc", "train", "eval"):  # bench/ measures the scorers themselves
        for path in (REPO / top).rglob("*.py"):
            if path.is_relative_to(REPO / "ttc" / "verifiers"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.ImportFrom, ast.Import)):
                    names = {a.name for a in node.names}
                    if names & SCORERS:
                        found.append(f"{path.relative_to(REPO)}:{node.lineno} imports {sorted(names & SCORERS)}")
    assert not found, "\n".join(found)
