"""What trains in each stage of ADIFF's recipe, and how it is frozen."""

from collections.abc import Iterable

from torch import nn

from ..backbones.assembly import component_of
from ..modeling_adiff import ADiffForConditionalGeneration
from .lora import unwrap_lora

# The parts of ADiffModel, as named on `model.model`; `lm_head` belongs to the language model (it is tied to its
# word embeddings in the release).
COMPONENTS = (
    "audio_tower",
    "audio_projection",
    "audio_mapper_1",
    "audio_mapper_2",
    "text_mapper",
    "cross_projection",
    "language_model",
)
ALIGNMENT_COMPONENTS = ("audio_projection", "audio_mapper_1", "audio_mapper_2", "text_mapper", "cross_projection")

# This project's defaults (not numbers from the ADIFF paper, which could not be read): stage 1 aligns the new
# parts on position captioning + short answers, stage 2 trains them on the whole difference mix, stage 3 also
# fine-tunes the language model at a tenth of the learning rate.
STAGE_DEFAULTS = {
    1: {"trainable": ALIGNMENT_COMPONENTS, "tiers": ("few_words",), "caption_ratio": 1.0, "lr_scale": 1.0},
    2: {
        "trainable": ALIGNMENT_COMPONENTS,
        "tiers": ("few_words", "sentence", "detail"),
        "caption_ratio": 0.1,
        "lr_scale": 1.0,
    },
    3: {
        "trainable": (*ALIGNMENT_COMPONENTS, "language_model"),
        "tiers": ("few_words", "sentence", "detail"),
        "caption_ratio": 0.1,
        "lr_scale": 0.1,
    },
}


def parse_components(value: str | Iterable[str], argument: str = "trainable") -> tuple[str, ...]:
    """`"audio_projection,text_mapper"` (or a list) -> validated component names."""
    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value) if n.strip()]
    unknown = sorted(set(names) - set(COMPONENTS))
    if unknown:
        raise ValueError(f"{argument}: unknown components {unknown}; choose from {list(COMPONENTS)}.")
    if not names:
        raise ValueError(f"{argument}: name at least one component to train, from {list(COMPONENTS)}.")
    return tuple(names)


def set_trainable_components(model: ADiffForConditionalGeneration, components: Iterable[str]) -> dict:
    """Train exactly `components`; freeze every other parameter. Returns counts per component.

    Frozen components are also listed in `frozen_modules`: `ADiffTrainer` keeps them in eval mode, so HTSAT's
    BatchNorm statistics stay put and dropout does not perturb what the trainable parts learn from. No components
    freeze everything (a LoRA stage that tunes only the language model's adapters).
    """
    components = tuple(components)
    components = parse_components(components) if components else ()
    counts = {name: {"trainable": 0, "frozen": 0} for name in COMPONENTS}
    for name, parameter in model.named_parameters():
        component = component_of(name)
        parameter.requires_grad_(component in components)
        counts[component]["trainable" if component in components else "frozen"] += parameter.numel()
    return {
        "trainable_components": list(components),
        "trainable_parameters": sum(c["trainable"] for c in counts.values()),
        "frozen_parameters": sum(c["frozen"] for c in counts.values()),
        "per_component": counts,
    }


def frozen_modules(model: nn.Module) -> list[nn.Module]:
    """The components of `model` none of whose parameters train.

    `model` is an ADIFF model, or a `peft.PeftModel` around one (a LoRA stage): there the language model carries
    trainable adapters and each component in `modules_to_save` a trainable copy, so neither counts as frozen.
    """
    model = unwrap_lora(model)
    modules = []
    for name in COMPONENTS:
        module = getattr(model.model, name)
        if not any(p.requires_grad for p in module.parameters()):
            modules.append(module)
    return modules


__all__ = [
    "ALIGNMENT_COMPONENTS",
    "COMPONENTS",
    "STAGE_DEFAULTS",
    "component_of",
    "frozen_modules",
    "parse_components",
    "set_trainable_components",
]
