"""A tiny causal LM and a character tokenizer, built in code (no model hub).

The model is a 2-layer Llama with hidden size 64 initialised from a seed: it starts near the
uniform policy over its ~40-token vocabulary (token entropy ≈ log V) and is NOT a pretrained
LLM; results on it say how the clip range behaves in GRPO's machinery, not how it behaves on
a pretrained model's sharply peaked token distributions.
"""

from __future__ import annotations

import string

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
CHARACTERS = string.ascii_lowercase + string.digits + ":"


def char_tokenizer() -> PreTrainedTokenizerFast:
    """WordLevel over single characters: one token per character, ids fixed by CHARACTERS."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + tuple(CHARACTERS))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
    )
    tok.padding_side = "left"
    return tok


def tiny_llama(tokenizer: PreTrainedTokenizerFast, seed: int, hidden: int = 64, layers: int = 2):
    """A LlamaForCausalLM with `layers` layers of width `hidden`, weights drawn from `seed`."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model
