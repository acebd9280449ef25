"""LoRA on the language model as a stage option: adapters on its layers through PEFT, the head trained in full.

A LoRA stage wraps the ADIFF model with `peft.get_peft_model`: LoRA adapters on the language model's chosen
layers, and the stage's other trainable components as PEFT `modules_to_save` (trained copies; the originals stay
frozen). After training, the adapter is saved on its own and then merged, so the stage directory stays a plain
ADIFF model directory.
"""

import re

from torch import nn

from ..backbones.assembly import LORA_ADAPTER_DIR, import_peft
from ..modeling_adiff import ADiffForConditionalGeneration

# Default adapted layers per language-model family: the attention projections (query/key/value and output).
# GPT-2 fuses q, k and v in `c_attn`; `attn.c_proj` leaves the MLP's own `c_proj` out.
DEFAULT_LORA_TARGETS = {
    "gpt2": ("c_attn", "attn.c_proj"),
    **{
        model_type: ("q_proj", "k_proj", "v_proj", "o_proj")
        for model_type in (
            "llama",
            "mistral",
            "mixtral",
            "qwen2",
            "qwen3",
            "gemma",
            "gemma2",
            "gemma3_text",
            "olmo",
            "olmo2",
            "granite",
            "smollm3",
        )
    },
}
LM_PREFIX = "model.language_model."


def lora_target_pattern(
    model: ADiffForConditionalGeneration, target_modules: list[str] | None
) -> tuple[str, list[str]]:
    """The regular expression PEFT matches against module names, and the names of the modules it selects.

    Each target is a suffix of module names in the language model (`c_attn`, `attn.c_proj`, `q_proj`); the
    expression only reaches modules under `model.language_model`, so the mappers' own projections stay untouched.
    """
    model_type = model.config.text_config.model_type
    if target_modules is None:
        if model_type not in DEFAULT_LORA_TARGETS:
            raise ValueError(
                f"--lora_target_modules: there is no default for a {model_type!r} language model; name the linear "
                f"layers to adapt, e.g. --lora_target_modules q_proj,v_proj."
            )
        target_modules = list(DEFAULT_LORA_TARGETS[model_type])
    alternatives = "|".join(re.escape(t) for t in target_modules)
    pattern = rf"{re.escape(LM_PREFIX)}(?:.*\.)?(?:{alternatives})"
    names = [n for n, _ in model.named_modules() if re.fullmatch(pattern, n)]
    if not names:
        layers = sorted(
            {
                n.rsplit(".", 1)[-1]
                for n, m in model.model.language_model.named_modules()
                if not list(m.children()) and getattr(m, "weight", None) is not None and m.weight.dim() == 2
            }
        )
        raise ValueError(
            f"--lora_target_modules {','.join(target_modules)} matches no layer of the {model_type} language model; "
            f"its layers with weight matrices are {layers}."
        )
    return pattern, names


def apply_lora(model: ADiffForConditionalGeneration, settings: dict, components: tuple[str, ...]):
    """Wrap `model` for a LoRA stage. Returns the `peft.PeftModel` and a summary of what it trains.

    Args:
        model: the ADIFF model, its trainable components already set (the language model frozen).
        settings: `r`, `alpha`, `dropout`, `target_modules` (None: the family's default), from
            `StageArguments.lora`.
        components: the stage's trainable components other than the language model; they train as full copies.
    """
    peft = import_peft("--lora_r")
    pattern, names = lora_target_pattern(model, settings["target_modules"])
    # GPT-2's layers are `Conv1D`s, whose weights are stored transposed; PEFT must be told (it warns otherwise)
    chosen = set(names)
    transposed = all(type(m).__name__ == "Conv1D" for n, m in model.named_modules() if n in chosen)
    config = peft.LoraConfig(
        r=settings["r"],
        lora_alpha=settings["alpha"],
        lora_dropout=settings["dropout"],
        target_modules=pattern,
        fan_in_fan_out=transposed,
        modules_to_save=[f"model.{c}" for c in components] or None,
    )
    peft_model = peft.get_peft_model(model, config)
    adapter_parameters = sum(p.numel() for n, p in peft_model.named_parameters() if p.requires_grad and ".lora_" in n)
    summary = {
        "r": settings["r"],
        "alpha": settings["alpha"],
        "dropout": settings["dropout"],
        "target_modules": pattern,
        "adapted_modules": len(names),
        "modules_to_save": list(components),
        "adapter_parameters": adapter_parameters,
        "adapter_dir": LORA_ADAPTER_DIR,
    }
    return peft_model, summary


def unwrap_lora(model: nn.Module) -> nn.Module:
    """The ADIFF model inside a `peft.PeftModel` (through its public `get_base_model`); any other model as it is."""
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


__all__ = ["DEFAULT_LORA_TARGETS", "apply_lora", "lora_target_pattern", "unwrap_lora"]
