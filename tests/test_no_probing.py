"""No protocol probing: every `getattr`/`hasattr` call in ttc, eval, train and data is one of
the legitimate uses listed here, each with its reason; any other fails the test.

A protocol member (`LM.tokenizer`, `LM.close`, the `Verifier` ledger fields, a stage's contract)
is read directly: the protocols declare it and the bases (ttc.lm.LMBase, ttc.verifiers.VerifierBase)
give its default. What is left: `getattr(torch, dtype)`, third-party
objects whose attributes vary by version or type, and a dataclass's own fields by name.

An entry is (file, a fragment of the call's line): it must match exactly one call, so an entry
whose call is gone fails too (take it out).
"""

import ast

from tests.support.runs import REPO

PACKAGES = ("ttc", "eval", "train", "data")

TORCH_DTYPE = "a torch dtype by its config name"
OWN_FIELDS = "a dataclass's own fields (or an attribute it names) by name"
THIRD_PARTY = "a third-party object whose attribute depends on its version or type"

ALLOWED: dict[tuple[str, str], str] = {
    ("ttc/lm/hf.py", "getattr(torch, resolve_dtype(dtype, device.type))"): TORCH_DTYPE,
    ("train/toy_lm.py", "getattr(torch, cfg.save_dtype)"): TORCH_DTYPE,
    ("ttc/stages/common.py", "getattr(cfg, f.name)"): OWN_FIELDS,
    ("data/shards.py", "getattr(node, f.name)"): OWN_FIELDS,
    ("data/prm_format.py", "getattr(self, name)"): OWN_FIELDS,
    ("eval/compute_optimal.py", "float(getattr(self, of)[j, idx].mean())"): OWN_FIELDS,
    ("eval/compute_optimal.py", "dict(zip(questions, getattr(self, of)[j].tolist()))"): OWN_FIELDS,
    ("eval/compute_optimal.py", "getattr(a, of)[name]"): OWN_FIELDS,
    ("eval/compute_optimal.py", "getattr(analyses[0], of).items()"): OWN_FIELDS,
    ("ttc/lm/vllm.py", 'getattr(client, "output_queue_thread", None)'): THIRD_PARTY + " (vLLM's client)",
    ("ttc/verifiers/qwen_prm.py", 'getattr(tokenizer, "chat_template", None)'): THIRD_PARTY + " (a tokenizer)",
    ("ttc/verifiers/rlhflow.py", 'getattr(tokenizer, "chat_template", None)'): THIRD_PARTY + " (a tokenizer)",
    ("data/prompts.py", 'getattr(tokenizer, "chat_template", None)'): THIRD_PARTY + " (a tokenizer)",
    ("data/config.py", 'getattr(e, "problem_mark", None)'): THIRD_PARTY + " (a PyYAML error)",
    ("data/config.py", "getattr(e, 'problem', e)"): THIRD_PARTY + " (a PyYAML error)",
    ("data/config.py", 'getattr(e, "problem", None)'): THIRD_PARTY + " (a PyYAML error)",
    ("data/models.py", "getattr(modeling_auto, name)"): THIRD_PARTY + " (transformers' auto-model tables)",
    ("data/config.py", 'getattr(value, "name", None)'): THIRD_PARTY + " (an io object)",
}


def calls() -> list[tuple[str, int, str]]:
    """(file, line, the line's text) of every getattr/hasattr call (those in f-strings too)."""
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            for node in ast.walk(ast.parse(source)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr")
                ):
                    found.append((str(path.relative_to(REPO)), node.lineno, lines[node.lineno - 1].strip()))
    return sorted(found)


def test_every_getattr_and_hasattr_is_a_listed_legitimate_use():
    found = calls()
    matches = {entry: [c for c in found if c[0] == entry[0] and entry[1] in c[2]] for entry in ALLOWED}
    covered = {c for hits in matches.values() for c in hits}
    unlisted = [f"{file}:{line}: {text}" for file, line, text in found if (file, line, text) not in covered]
    assert not unlisted, (
        "protocol probes (read the member the protocol declares, or list a legitimate use):\n" + "\n".join(unlisted)
    )
    not_one = {entry: [f"{f}:{n}" for f, n, _ in hits] for entry, hits in matches.items() if len(hits) != 1}
    assert not not_one, f"allowlist entries that match no call, or several: {not_one}"
