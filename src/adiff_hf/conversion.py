"""Convert the original ADIFF release checkpoint into a Hugging Face model directory.

Every size the tensors reveal is read from them (HTSAT width, depths, heads, window; projection; mapper and
cross-projection depth and widths; prefix lengths; GPT-2 width, depth, vocabulary, positions). What the tensors
cannot tell (attention head counts of GPT-2 and of the mappers) comes from arguments whose defaults are the
release's.
"""

import json
import os
import re
from collections import Counter

import numpy as np
import torch
from transformers import AutoTokenizer, GPT2Config

from .configuration_adiff import ADiffConfig
from .feature_extraction_adiff import ADiffFeatureExtractor
from .modeling_adiff import ADiffForConditionalGeneration
from .processing_adiff import ADiffProcessor

HTSAT = "audio_encoder.base.htsat."
GPT = "caption_decoder.gpt."

# Original prefix -> prefix in ADiffForConditionalGeneration (ADIFF's own modules keep their inner names).
PREFIX_MAP = {
    "audio_encoder.projection.": "model.audio_projection.",
    "caption_decoder.audio_project1.": "model.audio_mapper_1.",
    "caption_decoder.audio_project2.": "model.audio_mapper_2.",
    "caption_decoder.text_project.": "model.text_mapper.",
    "caption_decoder.cross_project.": "model.cross_projection.",
    GPT + "transformer.": "model.language_model.",
    GPT + "lm_head.": "lm_head.",
}

# HTSAT block names -> ClapAudioModel's (the q/k/v split is handled separately).
HTSAT_BLOCK_RENAMES = {
    "norm1.": "layernorm_before.",
    "attn.relative_position_bias_table": "attention.self.relative_position_bias_table",
    "attn.proj.": "attention.output.dense.",
    "norm2.": "layernorm_after.",
    "mlp.fc1.": "intermediate.dense.",
    "mlp.fc2.": "output.dense.",
}

# What the converted model does not need, with the reason printed for each group.
DROPPED = {
    "STFT / mel buffers (the feature extractor computes log-mel)": re.compile(
        r"^audio_encoder\.base\.htsat\.(spectrogram_extractor|logmel_extractor)\."
    ),
    "HTSAT classification head (unused by ADIFF)": re.compile(r"^audio_encoder\.base\.htsat\.(tscam_conv|head)\."),
    "attention masks and relative-position indices (recomputed)": re.compile(
        r"(\.attn_mask$|\.relative_position_index$|\.attn\.bias$|\.attn\.masked_bias$)"
    ),
}


def load_original_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read the release's checkpoint: a plain state dict, `module.`-prefixed, or wrapped in `state_dict`/`model`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors.")
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def _count(state_dict: dict, pattern: str) -> int:
    """Number of distinct indices N in keys matching `pattern` (with `(\\d+)` for N)."""
    regex = re.compile(pattern)
    return len({m.group(1) for k in state_dict for m in [regex.match(k)] if m})


def infer_config(
    state_dict: dict[str, torch.Tensor],
    text_config: dict | None = None,
    mapper_num_heads: int = 8,
    cross_num_heads: int = 4,
    prompt_length: int | None = None,
) -> ADiffConfig:
    """Build the `ADiffConfig` that the checkpoint's tensors describe."""
    sd = state_dict
    patch = sd[HTSAT + "patch_embed.proj.weight"]
    num_stages = _count(sd, re.escape(HTSAT) + r"layers\.(\d+)\.")
    depths = [_count(sd, re.escape(HTSAT) + rf"layers\.{i}\.blocks\.(\d+)\.") for i in range(num_stages)]
    bias_tables = [sd[HTSAT + f"layers.{i}.blocks.0.attn.relative_position_bias_table"] for i in range(num_stages)]
    window_size = (int(round(bias_tables[0].shape[0] ** 0.5)) + 1) // 2
    embed_dim = patch.shape[0]
    audio_config = {
        "num_mel_bins": sd[HTSAT + "bn0.weight"].shape[0],
        "patch_size": patch.shape[-1],
        "patch_embeds_hidden_size": embed_dim,
        "depths": depths,
        "num_attention_heads": [t.shape[1] for t in bias_tables],
        "window_size": window_size,
        "mlp_ratio": sd[HTSAT + "layers.0.blocks.0.mlp.fc1.weight"].shape[0] / embed_dim,
        "qkv_bias": HTSAT + "layers.0.blocks.0.attn.qkv.bias" in sd,
        "hidden_size": sd[HTSAT + "norm.weight"].shape[0],
    }
    mask_key = HTSAT + "layers.0.blocks.1.attn_mask"
    if mask_key in sd:  # windows in the first stage reveal the spectrogram image size
        windows_per_side = int(round(sd[mask_key].shape[0] ** 0.5))
        audio_config["spec_size"] = windows_per_side * window_size * patch.shape[-1]
    if HTSAT + "head.weight" in sd:
        audio_config["num_classes"] = sd[HTSAT + "head.weight"].shape[0]

    wte = sd[GPT + "transformer.wte.weight"]
    text = GPT2Config(**{k: v for k, v in (text_config or {}).items() if k not in ("architectures", "model_type")})
    text.vocab_size, text.n_embd = wte.shape
    text.n_positions = sd[GPT + "transformer.wpe.weight"].shape[0]
    text.n_layer = _count(sd, re.escape(GPT) + r"transformer\.h\.(\d+)\.")
    inner = sd[GPT + "transformer.h.0.mlp.c_fc.weight"].shape[1]  # Conv1D stores (in, out)
    text.n_inner = None if inner == 4 * text.n_embd else inner
    if text.n_embd % text.n_head:
        raise ValueError(f"GPT-2 width {text.n_embd} is not divisible by n_head={text.n_head}: pass --text-config.")

    dim = text.n_embd
    mapper = "caption_decoder.audio_project1."
    clip_length = sd[mapper + "linear.weight"].shape[0] // dim
    return ADiffConfig(
        audio_config=audio_config,
        text_config=text.to_dict(),
        projection_dim=sd["audio_encoder.projection.linear1.weight"].shape[0],
        audio_clip_length=clip_length,
        prefix_length=sd[mapper + "prefix_const"].shape[0],
        prompt_length=prompt_length or clip_length,
        mapper_num_layers=_count(sd, re.escape(mapper) + r"transformer\.layers\.(\d+)\."),
        mapper_num_heads=mapper_num_heads,
        mapper_mlp_ratio=sd[mapper + "transformer.layers.0.mlp.fc1.weight"].shape[0] / dim,
        cross_num_layers=_count(sd, r"caption_decoder\.cross_project\.layers\.(\d+)\."),
        cross_num_heads=cross_num_heads,
        cross_mlp_ratio=sd["caption_decoder.cross_project.layers.0.mlp.fc1.weight"].shape[0] / dim,
        tie_word_embeddings=GPT + "lm_head.weight" not in sd or torch.equal(sd[GPT + "lm_head.weight"], wte),
    )


def check_mel_filters(state_dict: dict, feature_extractor: ADiffFeatureExtractor) -> None:
    """Refuse a checkpoint whose front end used other mel filters than the feature extractor computes."""
    mel = state_dict.get(HTSAT + "logmel_extractor.melW")
    if mel is None:
        return
    ours = feature_extractor.mel_filters_slaney
    if mel.shape == ours.shape and np.allclose(mel.float().numpy(), ours, rtol=1e-4, atol=1e-6):
        return
    hint = ""
    for fmin in (0, 20, 50):
        for fmax in (8000, 11025, 14000, 16000):
            candidate = ADiffFeatureExtractor(feature_size=mel.shape[1], frequency_min=fmin, frequency_max=fmax)
            if mel.shape == candidate.mel_filters_slaney.shape and np.allclose(
                mel.float().numpy(), candidate.mel_filters_slaney, rtol=1e-4, atol=1e-6
            ):
                hint = f" They match fmin={fmin}, fmax={fmax}."
    raise ValueError(
        f"The checkpoint's mel filters (melW, {tuple(mel.shape)}) differ from the feature extractor's "
        f"(fmin={feature_extractor.frequency_min}, fmax={feature_extractor.frequency_max}, "
        f"{feature_extractor.feature_size} bins).{hint} Refusing to convert: outputs would not match the original."
    )


def convert_state_dict(state_dict: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], Counter]:
    """Rename the release's keys to `ADiffForConditionalGeneration`'s; returns the new dict and what was dropped."""
    converted, dropped, unknown = {}, Counter(), []
    for key, tensor in state_dict.items():
        reason = next((why for why, rx in DROPPED.items() if rx.search(key)), None)
        if reason is not None:
            dropped[reason] += 1
            continue
        if key.startswith(HTSAT):
            converted.update(_convert_htsat_key(key.removeprefix(HTSAT), tensor))
            continue
        prefix = next((p for p in PREFIX_MAP if key.startswith(p)), None)
        if prefix is None:
            unknown.append(key)
            continue
        converted[PREFIX_MAP[prefix] + key.removeprefix(prefix)] = tensor
    if unknown:
        raise ValueError(f"Unknown keys in the checkpoint (is it an ADIFF release checkpoint?): {unknown[:10]}")
    return converted, dropped


def _convert_htsat_key(key: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    out = "model.audio_tower.audio_encoder."
    if key.startswith("bn0."):
        return {out + "batch_norm." + key.removeprefix("bn0."): tensor}
    match = re.match(r"(layers\.\d+\.blocks\.\d+\.)(.*)", key)
    if match is None:  # patch_embed, downsample, final norm: same names
        return {out + key: tensor}
    block, rest = match.groups()
    if rest.startswith("attn.qkv."):
        suffix = rest.removeprefix("attn.qkv.")
        return {
            f"{out}{block}attention.self.{name}.{suffix}": part
            for name, part in zip(("query", "key", "value"), tensor.chunk(3, dim=0), strict=True)
        }
    for old, new in HTSAT_BLOCK_RENAMES.items():
        if rest.startswith(old):
            return {out + block + new + rest.removeprefix(old): tensor}
    raise ValueError(f"Unknown HTSAT key in the checkpoint: {HTSAT + key}")


def convert_checkpoint(
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike,
    text_config: str | os.PathLike | dict | None = None,
    tokenizer: str | os.PathLike = "gpt2",
    mapper_num_heads: int = 8,
    cross_num_heads: int = 4,
    dtype: torch.dtype = torch.float32,
    log=print,
) -> ADiffForConditionalGeneration:
    """Convert a release checkpoint into `output_dir` (model, config, generation config, processor)."""
    state_dict = load_original_state_dict(checkpoint)
    if isinstance(text_config, (str, os.PathLike)):
        with open(text_config) as f:
            text_config = json.load(f)
    config = infer_config(state_dict, text_config, mapper_num_heads=mapper_num_heads, cross_num_heads=cross_num_heads)
    feature_extractor = ADiffFeatureExtractor(feature_size=config.audio_config.num_mel_bins)
    check_mel_filters(state_dict, feature_extractor)

    converted, dropped = convert_state_dict(state_dict)
    converted = {k: v.to(dtype) if v.is_floating_point() else v for k, v in converted.items()}
    if config.tie_word_embeddings:
        converted.pop("lm_head.weight", None)
    model = ADiffForConditionalGeneration(config).to(dtype)
    missing, unexpected = model.load_state_dict(converted, strict=False)
    # relative-position indices are recomputed by ClapAudioModel; a tied head shares the embeddings
    missing = [
        k
        for k in missing
        if not (k.endswith("relative_position_index") or (config.tie_word_embeddings and k == "lm_head.weight"))
    ]
    if missing or unexpected:
        raise ValueError(
            f"Converted weights do not fit the model. Missing: {missing[:10]}; unexpected: {unexpected[:10]}"
        )
    model.tie_weights()
    model.eval()

    processor = ADiffProcessor(
        feature_extractor=feature_extractor,
        tokenizer=AutoTokenizer.from_pretrained(tokenizer),
        prompt_length=config.prompt_length,
        num_prefix_tokens=config.num_prefix_tokens,
        prompt_pad_token_id=config.prompt_pad_token_id,
    )
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)

    log(f"Converted {len(state_dict)} tensors from {checkpoint} into {len(converted)} in {output_dir}.")
    for reason, count in dropped.items():
        log(f"  dropped {count:4d}: {reason}")
    log(f"  parameters: {model.num_parameters():,}")
    return model
