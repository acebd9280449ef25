"""Both importers on small synthetic files of the real formats: a GGUF Llama and a CTranslate2 Whisper model.bin."""

import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from adiff_hf.backbones import import_ctranslate2_whisper_encoder, import_gguf_causal_lm, read_ctranslate2_model
from conftest import REPO


def _ct2_string(text: str) -> bytes:
    data = text.encode() + b"\0"
    return struct.pack("<H", len(data)) + data


def write_ctranslate2(path, spec: str, variables: dict[str, np.ndarray], aliases: dict[str, str]) -> None:
    """CTranslate2's model.bin layout, written independently of the reader under test."""
    ids = {
        np.dtype(np.float32): 0,
        np.dtype(np.int8): 1,
        np.dtype(np.int16): 2,
        np.dtype(np.int32): 3,
        np.dtype(np.float16): 4,
    }
    with open(path, "wb") as f:
        f.write(struct.pack("<I", 6) + _ct2_string(spec) + struct.pack("<II", 3, len(variables)))
        for name, value in variables.items():
            array = np.asarray(value)
            f.write(_ct2_string(name) + struct.pack("<B", array.ndim) + struct.pack(f"<{array.ndim}I", *array.shape))
            f.write(struct.pack("<BI", ids[array.dtype], array.nbytes) + array.tobytes())
        f.write(struct.pack("<I", len(aliases)))
        for alias, target in aliases.items():
            f.write(_ct2_string(alias) + _ct2_string(target))


def test_ctranslate2_whisper_encoder(tmp_path):
    from transformers import WhisperConfig, WhisperModel

    torch.manual_seed(0)
    config = WhisperConfig(
        d_model=24,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=48,
        num_mel_bins=16,
        max_source_positions=20,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=48,
    )
    reference = WhisperModel(config).encoder
    sd = {k: v.detach().numpy().astype(np.float16) for k, v in reference.state_dict().items()}
    variables = {
        "encoder/conv1/weight": sd["conv1.weight"],
        "encoder/conv1/bias": sd["conv1.bias"],
        "encoder/conv2/weight": sd["conv2.weight"],
        "encoder/conv2/bias": sd["conv2.bias"],
        "encoder/position_encodings/encodings": sd["embed_positions.weight"],
        "encoder/num_heads": np.array(2, dtype=np.int16),
        "encoder/layer_norm/gamma": sd["layer_norm.weight"],
        "encoder/layer_norm/beta": sd["layer_norm.bias"],
    }
    for i in range(2):
        p, q = f"layers.{i}", f"encoder/layer_{i}"
        zeros = np.zeros_like(sd[f"{p}.self_attn.q_proj.bias"])
        variables |= {
            f"{q}/self_attention/linear_0/weight": np.concatenate(
                [sd[f"{p}.self_attn.{n}_proj.weight"] for n in "qkv"]
            ),
            f"{q}/self_attention/linear_0/bias": np.concatenate(
                [sd[f"{p}.self_attn.q_proj.bias"], zeros, sd[f"{p}.self_attn.v_proj.bias"]]
            ),
            f"{q}/self_attention/linear_1/weight": sd[f"{p}.self_attn.out_proj.weight"],
            f"{q}/self_attention/linear_1/bias": sd[f"{p}.self_attn.out_proj.bias"],
            f"{q}/self_attention/layer_norm/gamma": sd[f"{p}.self_attn_layer_norm.weight"],
            f"{q}/self_attention/layer_norm/beta": sd[f"{p}.self_attn_layer_norm.bias"],
            f"{q}/ffn/linear_0/weight": sd[f"{p}.fc1.weight"],
            f"{q}/ffn/linear_0/bias": sd[f"{p}.fc1.bias"],
            f"{q}/ffn/linear_1/weight": sd[f"{p}.fc2.weight"],
            f"{q}/ffn/linear_1/bias": sd[f"{p}.fc2.bias"],
            f"{q}/ffn/layer_norm/gamma": sd[f"{p}.final_layer_norm.weight"],
            f"{q}/ffn/layer_norm/beta": sd[f"{p}.final_layer_norm.bias"],
        }
    variables["decoder/embeddings/weight"] = np.zeros((config.vocab_size, 24), dtype=np.float16)
    (tmp_path / "ct2").mkdir()
    write_ctranslate2(
        tmp_path / "ct2" / "model.bin",
        "WhisperSpec",
        variables,
        {"decoder/projection/weight": "decoder/embeddings/weight"},
    )
    (tmp_path / "ct2" / "config.json").write_text("{}")

    spec, read = read_ctranslate2_model(tmp_path / "ct2" / "model.bin")
    assert spec == "WhisperSpec" and read["decoder/projection/weight"].shape == (
        config.vocab_size,
        24,
    )  # aliases resolved
    out = import_ctranslate2_whisper_encoder(tmp_path / "ct2", tmp_path / "hf")
    encoder = WhisperModel.from_pretrained(out).get_encoder().eval()
    assert (encoder.config.d_model, encoder.config.encoder_layers, encoder.config.encoder_attention_heads) == (24, 2, 2)
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(encoder.state_dict()[name], tensor.half().float(), msg=name)
    features = torch.randn(1, 16, 40)
    with torch.no_grad():
        reference.eval()
        expected = reference.half().float()(input_features=features).last_hidden_state
        torch.testing.assert_close(encoder(input_features=features).last_hidden_state, expected, atol=1e-4, rtol=1e-4)

    (tmp_path / "bad.bin").write_bytes(b"\x06\x00\x00\x00\x05")
    with pytest.raises(ValueError, match="bad.bin is not a readable CTranslate2 model"):
        read_ctranslate2_model(tmp_path / "bad.bin")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        import_ctranslate2_whisper_encoder(tmp_path / "nowhere", tmp_path / "x")


def write_tiny_gguf(path) -> dict[str, np.ndarray]:
    """A 1-layer Llama with a byte-level BPE vocabulary of a few tokens, as llama.cpp writes GGUF."""
    import gguf

    rng = np.random.default_rng(0)
    tokens = ["<unk>", "<s>", "</s>", "a", "b", "c", "Ġ", "ab", "Ġa", "Ġab"]
    dim, ffn, vocab = 16, 32, len(tokens)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(64)
    writer.add_embedding_length(dim)
    writer.add_block_count(1)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(2)
    writer.add_head_count_kv(1)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    writer.add_rope_dimension_count(dim // 2)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3, 3, 3] + [1] * (vocab - 3))
    writer.add_token_merges(["a b", "Ġ a", "Ġa b"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    weights = {
        "token_embd.weight": rng.standard_normal((vocab, dim)),
        "blk.0.attn_norm.weight": 1 + 0.1 * rng.standard_normal(dim),
        "blk.0.attn_q.weight": rng.standard_normal((dim, dim)) * 0.1,
        "blk.0.attn_k.weight": rng.standard_normal((dim // 2, dim)) * 0.1,
        "blk.0.attn_v.weight": rng.standard_normal((dim // 2, dim)) * 0.1,
        "blk.0.attn_output.weight": rng.standard_normal((dim, dim)) * 0.1,
        "blk.0.ffn_norm.weight": 1 + 0.1 * rng.standard_normal(dim),
        "blk.0.ffn_gate.weight": rng.standard_normal((ffn, dim)) * 0.1,
        "blk.0.ffn_up.weight": rng.standard_normal((ffn, dim)) * 0.1,
        "blk.0.ffn_down.weight": rng.standard_normal((dim, ffn)) * 0.1,
        "output_norm.weight": 1 + 0.1 * rng.standard_normal(dim),
    }
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    for name, array in weights.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return weights


def test_gguf_llama(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    weights = write_tiny_gguf(tmp_path / "tiny.gguf")
    out = import_gguf_causal_lm(tmp_path / "tiny.gguf", tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.hidden_size == 16
    assert model.config.num_key_value_heads == 1 and getattr(model.config, "quantization_config", None) is None
    state = model.state_dict()
    np.testing.assert_array_equal(state["model.embed_tokens.weight"].numpy(), weights["token_embd.weight"])
    np.testing.assert_array_equal(
        state["model.layers.0.mlp.down_proj.weight"].numpy(), weights["blk.0.ffn_down.weight"]
    )
    np.testing.assert_array_equal(state["model.norm.weight"].numpy(), weights["output_norm.weight"])
    assert tokenizer.convert_tokens_to_ids("Ġab") == 9 and tokenizer.eos_token == "</s>"
    assert model.generate(torch.tensor([[1, 3]]), max_new_tokens=3, do_sample=False).shape == (1, 5)
    with pytest.raises(FileNotFoundError, match="missing.gguf"):
        import_gguf_causal_lm(tmp_path / "missing.gguf", tmp_path / "x")


def test_import_script_runs_on_both_formats(tmp_path):
    write_tiny_gguf(tmp_path / "tiny.gguf")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "import_backbones.py"),
            "--output",
            str(tmp_path / "out"),
            "--gguf",
            str(tmp_path / "tiny.gguf"),
            "--skip-audio",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "out" / "smollm2-135m-instruct" / "model.safetensors").exists()
