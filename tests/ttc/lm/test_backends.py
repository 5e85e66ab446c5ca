"""Both LM backends on the toy base model, real engines: they agree on greedy completions and
follow the protocol's conventions (stop strings, finish reasons, seeds, ledger).

The toy tokenizer has one token per character, so token counts can be checked on the text;
special tokens (which a model may sample) are counted but not shown, so a count may exceed it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from data import toy
from data.config import ConfigError
from data.prompts import PromptFormat
from ttc.lm import Completion, GenerationRequest
from ttc.lm.spec import LMConfig, load_lm

pytestmark = pytest.mark.e2e  # real engines

FORMAT = PromptFormat()
PROMPTS = [FORMAT.render("Compute 12+34-15.")] + [  # operands of the toy levels (10-99)
    FORMAT.render(toy.generate(level, i, seed=0).question) for level in range(1, 6) for i in range(3)
]
HARD = PROMPTS[-3:]  # level 5: long solutions, so samples spread


@pytest.fixture(params=["hf_lm", "vllm_lm"])
def lm(request):
    return request.getfixturevalue(request.param)


def greedy(stop: tuple[str, ...] = (), max_tokens: int = 64) -> list[GenerationRequest]:
    return [GenerationRequest(p, max_tokens=max_tokens, stop=stop) for p in PROMPTS]


def sampled(prompts: list[str], n: int = 8, seed: int = 1, stop: tuple[str, ...] = ()) -> list[GenerationRequest]:
    return [GenerationRequest(p, n=n, temperature=0.8, max_tokens=48, stop=stop, seed=seed) for p in prompts]


def test_greedy_completions_match_across_backends(hf_lm, vllm_lm):
    for stop in [(), ("\n",), ("\\boxed", "1")]:  # the first completed stop string wins
        requests = greedy(stop)
        assert hf_lm.generate(requests) == vllm_lm.generate(requests)


def test_stop_string_is_kept_and_ends_generation(lm):
    for [full], [cut] in zip(lm.generate(greedy()), lm.generate(greedy(("\n",)))):
        if "\n" in full.text:
            first_line = full.text[: full.text.index("\n") + 1]
            assert cut == Completion(first_line, len(first_line), "stop")
        else:
            assert cut == full
    sampled_completions = [c for cs in lm.generate(sampled(HARD, stop=("\n",))) for c in cs]
    assert any(c.finish_reason == "stop" for c in sampled_completions)
    for c in sampled_completions:
        if c.finish_reason == "stop":
            assert c.text.endswith("\n") and c.text.count("\n") == 1 and c.num_tokens >= len(c.text)
        else:
            assert "\n" not in c.text


def test_stop_string_is_not_matched_across_the_prompt(lm):
    """Prompts end with "Solution:\n": a stop string spanning into them must not stop anything."""
    assert lm.generate(greedy((":\n=",))) == lm.generate(greedy())


def test_eos_is_counted_not_shown(lm):
    results = lm.generate(greedy() + sampled(HARD))
    ended = [c for cs in results for c in cs if c.finish_reason == "eos"]
    assert ended
    assert all(c.num_tokens >= len(c.text) + 1 for c in ended)


def test_stop_token_count_skips_hidden_special_tokens(hf_lm):
    """The cut after a stop string counts the tokens up to it, special ones included."""
    tokenizer = hf_lm.tokenizer
    ids = tokenizer.encode("=1", add_special_tokens=False) + [tokenizer.pad_token_id]
    ids += tokenizer.encode("2\n=3", add_special_tokens=False)
    request = GenerationRequest("", stop=("\n",))
    assert hf_lm._completion(ids, request) == Completion("=12\n", 5, "stop")


def test_max_tokens_gives_length(lm):
    for cs in lm.generate(greedy(max_tokens=7)):
        assert [(c.finish_reason, c.num_tokens, len(c.text)) for c in cs] == [("length", 7, 7)]


def test_samples_differ_and_repeat_with_their_seed(lm):
    first = lm.generate(sampled(HARD))
    for cs in first:
        assert len(cs) == 8 and len({c.text for c in cs}) > 1
    assert lm.generate(sampled(HARD)) == first
    assert lm.generate(sampled(HARD, seed=2)) != first


def test_adjacent_seeds_do_not_shift_samples(lm):
    """vLLM seeds sample i with seed + i: unless the backend spreads request seeds, seed 2's
    samples would be seed 1's shifted by one."""
    [a, b] = lm.generate([GenerationRequest(HARD[0], n=8, temperature=1.0, max_tokens=48, seed=s) for s in (1, 2)])
    assert a[1:] != b[:-1]


def test_greedy_n_repeats_the_greedy_completion(lm):
    [one] = lm.generate([GenerationRequest(PROMPTS[0], max_tokens=32)])
    [three] = lm.generate([GenerationRequest(PROMPTS[0], n=3, max_tokens=32)])
    assert three == one * 3


def test_hf_request_does_not_depend_on_its_batch(hf_lm):
    alone = hf_lm.generate(sampled(HARD[:1]))
    batched = hf_lm.generate(sampled(PROMPTS[:2], seed=7) + sampled(HARD[:1]) + sampled(PROMPTS[2:3], seed=9))
    assert batched[2] == alone[0]


def test_hf_builds_its_stop_string_check_once_per_stop_strings(toy_base_path, monkeypatch):
    """transformers' stop-string check decodes the whole vocabulary when built (seconds for
    Qwen's): one per stop strings, however many requests use them."""
    import ttc.lm.hf as hf

    built = []

    class Counted(hf.StopStringCriteria):
        def __init__(self, tokenizer, stop_strings):
            built.append(tuple(stop_strings))
            super().__init__(tokenizer, stop_strings)

    monkeypatch.setattr(hf, "StopStringCriteria", Counted)
    lm = load_lm(LMConfig(model=str(toy_base_path), backend="hf", dtype="float32"))
    first = lm.generate(greedy(stop=("\n",)) + greedy(stop=("\n",)))
    assert lm.generate(greedy(stop=("\n",))) == first[: len(PROMPTS)]
    lm.generate(greedy(stop=("\n\n",))[:1])
    assert built == [("\n",), ("\n\n",)]


def test_ledger_counts_prompts_once_and_every_generated_token(lm, hf_lm):
    requests = [GenerationRequest(p, n=n, temperature=0.8, max_tokens=24, seed=n) for n, p in zip([1, 2, 3], HARD)]
    before = dict(vars(lm.ledger), flops=lm.ledger.flops)
    results = lm.generate(requests)
    prompt_tokens = sum(len(hf_lm.tokenizer(r.prompt)["input_ids"]) for r in requests)
    generated = sum(c.num_tokens for cs in results for c in cs)
    expected = {"requests": 3, "generations": 6, "prompt_tokens": prompt_tokens, "generated_tokens": generated}
    assert lm.ledger.per_call[-1] == expected
    for key, value in expected.items():
        assert getattr(lm.ledger, key) - before[key] == value
    assert lm.ledger.calls - before["calls"] == 1
    assert lm.ledger.flops - before["flops"] == 2 * lm.num_parameters * (prompt_tokens + generated)
    assert lm.num_parameters == hf_lm.model.num_parameters() > 0


@pytest.mark.parametrize("backend", ["hf", "vllm"])
def test_bad_model_path_names_it(tmp_path, backend):
    for path, problem in [(tmp_path / "missing", "does not exist"), (tmp_path, "has no config.json")]:
        with pytest.raises(ConfigError, match=f"{re.escape(str(path))}.*{problem}"):
            load_lm(LMConfig(model=str(path), backend=backend))


CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}=>{% endif %}"
)
# Loads a hub id, renders a chat prompt with the LM's tokenizer and generates from it, in a
# process of its own (vLLM spawns workers: under __main__).
LOAD_BY_HUB_ID = """
import sys
from data.prompts import PromptFormat
from ttc.lm.spec import LMConfig, load_lm
from ttc.lm import GenerationRequest
if __name__ == "__main__":
    lm = load_lm(LMConfig(model="org/toy-base", backend=sys.argv[1]))
    prompt = PromptFormat(chat_template=True, system="Solve.").render("Compute 12+34.", lm.tokenizer, earlier=["=46"])
    [[done]] = lm.generate([GenerationRequest(prompt, max_tokens=8)])
    assert done.num_tokens > 0
    print(repr(prompt))
"""


@pytest.mark.parametrize("backend", ["hf", "vllm"])
def test_hub_id_loads_from_the_cache_with_the_network_unreachable(tmp_path, toy_base_path, backend):
    """A compute node without a network, HF_HUB_OFFLINE not set: a cached hub id loads at once.
    Given the id, transformers and vLLM asked the hub first and retried for minutes, then died
    with a ConnectError; they get the snapshot's folder now, and the process runs offline.
    Both backends also render `prompt.chat_template: true` with `lm.tokenizer` (the stages'
    and searches' way): the vLLM backend had no tokenizer, so it failed there."""
    from transformers import AutoTokenizer

    from tests.support.qwen import save_to_hub

    def chat_model(folder):
        shutil.copytree(toy_base_path, folder, dirs_exist_ok=True)
        tokenizer = AutoTokenizer.from_pretrained(toy_base_path)
        tokenizer.chat_template = CHAT_TEMPLATE  # the toy tokenizer has none
        tokenizer.save_pretrained(folder)

    hub = tmp_path / "hub"
    save_to_hub(hub, "org/toy-base", chat_model)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_HUB_CACHE=str(hub), HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens there
    script = tmp_path / "load.py"
    script.write_text(LOAD_BY_HUB_ID)
    run = subprocess.run([sys.executable, str(script), backend], env=env, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "127.0.0.1:9" not in run.stderr  # no request was tried (each failed one is logged with its URL)
    assert repr("<system>Solve.<user>Compute 12+34.<assistant>=46<user>Compute 12+34.=>") in run.stdout.splitlines()


def test_config_rejects_bad_values():
    for bad in [
        {"backend": "tgi"},
        {"dtype": "fp8"},
        {"threads": 0},
        {"kv_cache_gib": 0},
        {"block_size": 0},
        {"block_size": 20},
        {"device": "gpu"},
    ]:
        with pytest.raises(ValueError):
            LMConfig(model="m", **bad)


ENGINE_CASES = [  # (setting, the message an LM and a verifier section both give)
    ({"dtype": "fp8"}, r"dtype must be one of auto, float32, bfloat16, float16, got 'fp8'"),
    ({"device": "gpu"}, r"device: expected auto, cpu, cuda or cuda:N, got 'gpu'"),
    ({"threads": 0}, r"threads must be >= 1, got 0"),
    ({"max_model_len": 0}, r"max_model_len must be >= 1 or None, got 0"),
    ({"kv_cache_gib": 0}, r"kv_cache_gib must be > 0, got 0"),
    ({"gpu_memory_utilization": 1.5}, r"gpu_memory_utilization must be in \(0, 1\], got 1.5"),
]


@pytest.mark.parametrize("bad, message", ENGINE_CASES)
def test_lm_and_verifier_sections_check_their_engine_settings_alike(bad, message):
    from ttc.verifiers.kind import VerifierError
    from ttc.verifiers.spec import VerifierConfig

    with pytest.raises(ValueError, match=f"^{message}$"):
        LMConfig(model="m", **bad)
    with pytest.raises(VerifierError, match=f"^{message}$"):
        VerifierConfig(path="p", **bad)


def test_dtype_auto_is_bf16_on_cuda_and_fp32_elsewhere_for_every_engine():
    from ttc.lm.config import resolve_dtype

    assert [resolve_dtype("auto", d) for d in ("cuda", "cuda:1", "cpu", "mps")] == ["bfloat16"] * 2 + ["float32"] * 2
    assert resolve_dtype("float16", "cpu") == "float16" and resolve_dtype("float32", "cuda") == "float32"


def test_hf_backend_does_not_import_vllm():
    code = "import sys, ttc.lm.spec, ttc.lm.hf; assert 'vllm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_vllm_completion_does_not_depend_on_its_batch(vllm_lm):
    """What lets a search stream its requests: whatever else runs beside a request (it changes
    from run to run), its completions stay the same."""
    alone = vllm_lm.generate(sampled(HARD[:1]))
    batched = vllm_lm.generate(sampled(PROMPTS, n=8, seed=7) + sampled(HARD[:1]) + sampled(PROMPTS[2:3], seed=9))
    assert batched[len(PROMPTS)] == alone[0]


def test_vllm_streams_requests_one_ledger_call_per_submit(vllm_lm):
    first, second = sampled(HARD, stop=("\n",)), greedy(("\n",))
    expected = vllm_lm.generate(first) + vllm_lm.generate(second)
    calls = vllm_lm.ledger.calls
    tickets = vllm_lm.submit(first)
    with pytest.raises(RuntimeError, match="pending"):
        vllm_lm.generate(second)
    tickets += vllm_lm.submit(second)
    done = {}
    while finished := vllm_lm.collect():
        done.update((f.ticket, f) for f in finished)
    assert [done[t].completions for t in tickets] == expected
    prompt_tokens = [len(vllm_lm.llm.get_tokenizer()(r.prompt)["input_ids"]) for r in first + second]
    assert [done[t].prompt_tokens for t in tickets] == prompt_tokens
    assert vllm_lm.ledger.calls - calls == 2
    assert [c["requests"] for c in vllm_lm.ledger.per_call[-2:]] == [len(first), len(second)]
    assert vllm_lm.collect() == []


def test_vllm_one_byte_one_token_stops_become_stop_tokens(vllm_lm):
    """The engine then stops on the token itself (ttc/lm/vllm.py); the completions are
    those of the stop string (test_greedy_completions_match_across_backends)."""
    tokenizer = vllm_lm.llm.get_tokenizer()
    assert vllm_lm._stop_token("\n") == tokenizer.encode("\n", add_special_tokens=False)[0]
    assert vllm_lm._stop_token(":\n=") is None and vllm_lm._stop_token("\\boxed") is None
