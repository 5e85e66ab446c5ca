"""Every verifier kind through the one spec: the exact input its model card gives for a fixed
two-step solution, its default aggregation, and one clear error for each kind of bad input.

The public PRMs are tiny random-weight stand-ins (tests/support/standins.py) with the real
checkpoints' architectures, special tokens and heads; Mistral's and Qwen2's vocabularies are the
real ones, so token ids below are the ones the real checkpoints see.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, cast

import huggingface_hub.constants
import pytest

from data.config import ConfigError, build_dataclass
from data.prm_format import PRMFormat
from data.prompts import PromptFormat
from tests.support.standins import qwen2_tokenizer, qwen_math_prm
from ttc.verifiers.kind import VerifierError
from ttc.verifiers.spec import KINDS, VerifierConfig, load_verifier, resolve_path

if TYPE_CHECKING:
    from ttc.verifiers.hf_prm import HFVerifier
    from ttc.verifiers.math_shepherd import MathShepherd
    from ttc.verifiers.qwen_prm import QwenMathPRM
    from ttc.verifiers.rlhflow import RLHFlow

pytestmark = pytest.mark.e2e  # real PRM kinds loaded

QUESTION, STEPS = "Compute 12+34-15.", ["=46-15", "=31"]


def bound(kind: str, path, prompt: PromptFormat = PromptFormat(), **options):
    """The kind over its checkpoint's tokenizer, without loading weights."""
    from transformers import AutoTokenizer

    cls = KINDS[kind]
    verifier_kind = cls(resolve_path(str(path)), cls.options(options), prompt)
    verifier_kind.check_checkpoint()
    verifier_kind.bind(AutoTokenizer.from_pretrained(path))
    return verifier_kind


def test_math_shepherd_input_is_the_cards_in_mistrals_vocabulary(standins):
    kind = cast("MathShepherd", bound("math-shepherd", standins["math-shepherd"]))
    assert (kind.tag, kind.good, kind.bad) == (12902, 648, 387)  # the card's step_tag_id, candidate_tokens
    assert kind.text(QUESTION, STEPS) == "Compute 12+34-15. =46-15 ки\n=31 ки"  # f"{question} {output}"
    ids, positions = kind.encode(QUESTION, STEPS)
    assert ids == [
        1,
        1124,
        8145,
        28705,
        28740,
        28750,
        28806,
        28770,
        28781,
        28733,
        28740,
        28782,
        28723,
        327,
        28781,
        28784,
        28733,
        28740,
        28782,
        12902,
        13,
        28746,
        28770,
        28740,
        12902,
    ]  # <s> first, as encode() adds it
    assert positions == [19, 24] and [ids[p] for p in positions] == [12902, 12902]


def test_rlhflow_input_is_a_chat_with_plus_replies(standins):
    kind = cast("RLHFlow", bound("rlhflow", standins["rlhflow"]))
    assert kind.messages(QUESTION, [" =46-15 ", "=31"]) == [
        {"role": "user", "content": "Compute 12+34-15. =46-15"},
        {"role": "assistant", "content": "+"},
        {"role": "user", "content": "=31"},
        {"role": "assistant", "content": "+"},
    ]
    header = "<|start_header_id|>{}<|end_header_id|>\n\n"
    text = (
        "<|begin_of_text|>" + header.format("system") + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024"
        "\n\n<|eot_id|>"
        + header.format("user")
        + "Compute 12+34-15. =46-15<|eot_id|>"
        + header.format("assistant")
        + "+<|eot_id|>"
        + header.format("user")
        + "=31<|eot_id|>"
        + header.format("assistant")
        + "+<|eot_id|>"
    )
    assert kind.render(kind.messages(QUESTION, STEPS)) == text
    ids, positions = kind.encode(QUESTION, STEPS)
    assert ids == kind.tokenizer(text, add_special_tokens=False)["input_ids"]  # as apply_chat_template tokenizes
    eot = kind.tokenizer.convert_tokens_to_ids("<|eot_id|>")
    assert [(ids[p + 1], ids[p + 2]) for p in positions] == [(kind.good, eot)] * 2  # read just before each "+"
    assert positions[-1] == len(ids) - 3  # prm_evaluate.py's "-3" position, for the last step


def test_qwen_math_prm_input_is_the_cards_chat(standins):
    kind = cast("QwenMathPRM", bound("qwen2.5-math-prm", standins["qwen2.5-math-prm"]))
    text = (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nCompute 12+34-15.<|im_end|>\n<|im_start|>assistant\n=46-15<extra_0>=31<extra_0><|im_end|>\n"
    )
    assert kind.text(QUESTION, STEPS) == text
    ids, positions = kind.encode(QUESTION, STEPS)
    assert ids == [
        151644,
        8948,
        198,
        5501,
        2874,
        3019,
        553,
        3019,
        11,
        323,
        2182,
        697,
        1590,
        4226,
        2878,
        1124,
        79075,
        46391,
        151645,
        198,
        151644,
        872,
        198,
        46254,
        220,
        16,
        17,
        10,
        18,
        19,
        12,
        16,
        20,
        13,
        151645,
        198,
        151644,
        77091,
        198,
        28,
        19,
        21,
        12,
        16,
        20,
        151665,
        28,
        18,
        16,
        151665,
        151645,
        198,
    ]
    assert [ids[p] for p in positions] == [kind.tag] * 2 == [151665] * 2


def test_our_format_reads_its_training_prompt_and_prm_format_json(standins):
    kind = bound("prm", standins["prm"], prompt=PromptFormat(num_shots=4))  # a 4-shot policy's prompt: not read
    fmt = PRMFormat.load(standins["prm"])
    ids, positions = kind.encode(QUESTION, STEPS)
    expected, tags = fmt.encode(kind.tokenizer, PromptFormat().render(QUESTION), STEPS)  # the toy PRM's, zero-shot
    assert (ids, positions) == (expected, tags)


@pytest.mark.parametrize("kind", ["math-shepherd", "rlhflow", "qwen2.5-math-prm", "prm"])
def test_step_values_on_transformers(kind, standins):
    verifier = cast("HFVerifier", load_verifier(VerifierConfig(path=str(standins[kind]), kind=kind), PromptFormat()))
    values = verifier.score([QUESTION, QUESTION], [STEPS, STEPS[:1]])
    assert [len(v) for v in values] == [2, 1] and all(0 < x < 1 for v in values for x in v)
    assert values[1][0] == pytest.approx(values[0][0], abs=1e-5)  # causal: a step's value ignores later steps
    assert verifier.forward_passes == 2 and verifier.tokens_scored > 0 and verifier.num_parameters > 0


def test_each_kind_states_its_cards_aggregation():
    assert {k: cls.aggregation for k, cls in KINDS.items()} == {
        "prm": "last",
        "likelihood": "last",
        "math-shepherd": "min",
        "rlhflow": "last",
        "qwen2.5-math-prm": "prod",
    }


def test_a_hub_id_is_read_from_the_cache_only(standins, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--someorg--tiny-qwen-prm"
    shutil.copytree(standins["qwen2.5-math-prm"], repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    verifier = load_verifier(VerifierConfig(path="someorg/tiny-qwen-prm", kind="qwen2.5-math-prm"), PromptFormat())
    assert cast("HFVerifier", verifier).kind.path == str(repo / "snapshots" / "abc123")
    with pytest.raises(
        VerifierError,
        match=r"path: 'someorg/not-downloaded' is neither a local folder nor in the "
        r"Hugging Face cache .*hf download someorg/not-downloaded",
    ):
        load_verifier(VerifierConfig(path="someorg/not-downloaded", kind="qwen2.5-math-prm"), PromptFormat())


def bad_inputs(standins, tmp_path):
    """(config, what the error must say) for each kind of bad input."""
    lacking = qwen_math_prm(tmp_path / "no-extra-0", qwen2_tokenizer())  # a plain Qwen2.5 tokenizer
    return [
        (
            dict(path="x", kind="prm-v2"),
            r"kind: unknown verifier kind 'prm-v2' \(known: prm, likelihood, math-shepherd",
        ),
        (dict(path="x", kind="likelihood", backend="vllm"), r"backend: kind likelihood runs on the hf backend"),
        (
            dict(path="x", kind="math-shepherd", format={"tag": "ки"}),
            r"format.tag: not an input-format option of kind "
            r"math-shepherd \(known: bad, good, step_tag\)",
        ),
        (dict(path="x", device="gpu"), r"device: expected auto, cpu, cuda or cuda:N"),
        (dict(path=str(tmp_path / "missing")), r"path: '.*missing' does not exist"),
        (
            dict(path=str(lacking), kind="qwen2.5-math-prm"),
            r"format.step_tag: '<extra_0>' is not one token of .*no-extra-0",
        ),
        (dict(path=str(standins["rlhflow"]), kind="math-shepherd"), r"format.step_tag: 'ки' is not one token of"),
        (
            dict(path=str(standins["math-shepherd"]), kind="qwen2.5-math-prm"),
            r"holds \['MistralForCausalLM'\]; kind qwen2.5-math-prm expects Qwen2ForProcessRewardModel",
        ),
        (
            dict(path=str(standins["qwen2.5-math-prm"]), kind="rlhflow"),
            r"holds \['Qwen2ForProcessRewardModel'\]; kind rlhflow expects a causal LM checkpoint",
        ),
        (dict(path=str(standins["likelihood"]), kind="prm"), r"path: .*prm_format.json: not a ttc PRM folder"),
    ]


def test_bad_input_is_one_clear_error(standins, tmp_path):
    for settings, message in bad_inputs(standins, tmp_path):
        with pytest.raises(ConfigError, match=message) as error:
            load_verifier(VerifierConfig(**settings), PromptFormat())
        assert isinstance(error.value, VerifierError) and "\n" not in str(error.value)  # the CLI prints one line


def test_a_recipe_section_names_the_file_and_the_setting():
    with pytest.raises(ConfigError, match=r"search.yaml: VerifierConfig: kind: unknown verifier kind 'qwen-prm'"):
        build_dataclass(VerifierConfig, {"path": "Qwen/Qwen2.5-Math-PRM-7B", "kind": "qwen-prm"}, "search.yaml", {})
