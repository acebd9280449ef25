"""Small configurations for tests, benchmarks and smoke runs (random weights; nothing here is a released size)."""

from .configuration_adiff import ADiffConfig

# ADIFF's own parts at toy size, shared by both tiny layouts
TINY_HEAD = {
    "projection_dim": 32,
    "audio_clip_length": 8,
    "prefix_length": 8,
    "mapper_num_layers": 1,
    "mapper_num_heads": 2,
    "cross_num_layers": 1,
    "cross_num_heads": 2,
}


def _tiny(audio: dict, text: dict, overrides: dict) -> ADiffConfig:
    audio |= overrides.pop("audio_config", {})
    text |= overrides.pop("text_config", {})
    return ADiffConfig(audio_config=audio, text_config=text, **(TINY_HEAD | overrides))


def tiny_adiff_config(**overrides) -> ADiffConfig:
    """A ~2M-parameter ADIFF (mostly GPT-2's 50,257-token embedding table) that trains in seconds on a CPU.

    Keyword arguments override ADiffConfig fields; `audio_config` / `text_config` dicts are merged into the tiny
    ones.
    """
    audio = {"patch_embeds_hidden_size": 16, "depths": [1, 1, 1, 1], "num_attention_heads": [1, 1, 2, 2]}
    text = {"n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 256}
    return _tiny(audio, text, overrides)


def tiny_whisper_llama_config(**overrides) -> ADiffConfig:
    """A tiny ADIFF with the other backbone pair: a Whisper encoder and a Llama-family (SmolLM2-like) decoder."""
    audio = {
        "model_type": "whisper",
        "d_model": 32,
        "encoder_layers": 1,
        "encoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_layers": 1,
        "decoder_attention_heads": 2,
        "decoder_ffn_dim": 64,
        "num_mel_bins": 80,
        "vocab_size": 51864,
    }
    text = {
        "model_type": "llama",
        "hidden_size": 48,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "vocab_size": 50257,
        "tie_word_embeddings": True,
        "bos_token_id": 50256,
        "eos_token_id": 50256,
    }
    return _tiny(audio, text, overrides)


__all__ = ["tiny_adiff_config", "tiny_whisper_llama_config"]
