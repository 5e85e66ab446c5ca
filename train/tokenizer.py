"""A character-level tokenizer built locally with `tokenizers` (nothing is downloaded).

Every printable ASCII character and the newline is one token, so the toy world, MATH-style
prompts and revision headers all tokenize without unknowns. The PRM step tag and its two
label tokens are dedicated special tokens: the toy world's text is full of `+` and `-`.
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
STEP_TAG, GOOD, BAD = "<step>", "<good>", "<bad>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK, STEP_TAG, GOOD, BAD)
CHARACTERS = tuple(sorted(set(string.printable) - set("\t\r\x0b\x0c")))


def build_char_tokenizer(model_max_length: int = 1024) -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + CHARACTERS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    # Special tokens are matched before pre-tokenization; everything else is one char a token.
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])]
    )
    core.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        additional_special_tokens=[STEP_TAG, GOOD, BAD],
        model_max_length=model_max_length,
        padding_side="left",
    )
