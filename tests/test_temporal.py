"""Hearing time: `audio_time_segments` gives each audio mapper a short sequence of time segments per clip instead of
one pooled vector, and the release's single-vector layout stays the default."""

import copy
import json
import shutil

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, WhisperFeatureExtractor

from adiff_hf import ADiffConfig, ADiffForConditionalGeneration, ADiffProcessor
from adiff_hf.data import ADiffDataCollator, ClipEmbeddingCache
from adiff_hf.testing_utils import tiny_adiff_config, tiny_whisper_llama_config
from conftest import TOKENIZER_DIR, noise, tone

SEGMENTS = 4  # divides both towers' frame counts (Whisper's 500, tiny HTSAT's 32): segments average to the release
PROMPT = "explain the difference in few words"


def _whisper_processor(config) -> ADiffProcessor:
    return ADiffProcessor(
        WhisperFeatureExtractor(feature_size=80, sampling_rate=16000),
        AutoTokenizer.from_pretrained(TOKENIZER_DIR),
        num_prefix_tokens=config.num_prefix_tokens,
        clip_seconds=10,
    )


def _with_tower_of(model, source):
    model.model.audio_tower.load_state_dict(source.model.audio_tower.state_dict())
    return model.eval()


@pytest.fixture(scope="module")
def whisper_segments():
    torch.manual_seed(0)
    config = tiny_whisper_llama_config(audio_time_segments=SEGMENTS, projection_dropout=0.0)
    return ADiffForConditionalGeneration(config).eval(), _whisper_processor(config)


@pytest.mark.parametrize("tower", ["whisper", "htsat"])
def test_clip_embeddings_are_time_segments_that_average_to_the_release_embedding(tower):
    make = tiny_whisper_llama_config if tower == "whisper" else tiny_adiff_config
    torch.manual_seed(0)
    temporal = ADiffForConditionalGeneration(make(audio_time_segments=SEGMENTS)).eval()
    release = _with_tower_of(ADiffForConditionalGeneration(make()), temporal)
    shape = (2, 2, 80, 3000) if tower == "whisper" else (2, 2, 1001, 64)
    features = torch.randn(shape) * 4 - (0 if tower == "whisper" else 40)
    with torch.no_grad():
        segments = temporal.get_clip_embeddings(features)
        pooled = release.get_clip_embeddings(features)
        projected = temporal.get_audio_features(features).pooler_output
    dim = temporal.config.audio_embed_dim
    assert segments.shape == (2, 2, SEGMENTS, dim) and pooled.shape == (2, 2, dim)
    # equal consecutive segments of the heard frames: their mean is the release's one vector
    torch.testing.assert_close(segments.mean(dim=2), pooled, atol=1e-5, rtol=1e-5)
    assert (segments[:, :, 0] - segments[:, :, -1]).abs().max() > 1e-3  # and they are not all the same
    # projected and L2-normalised one segment at a time
    assert projected.shape == (2, 2, SEGMENTS, temporal.config.projection_dim)
    torch.testing.assert_close(projected.norm(dim=-1), torch.ones(2, 2, SEGMENTS))


def test_release_layout_is_the_default_and_adds_no_parameters():
    assert ADiffConfig().audio_time_segments is None and tiny_adiff_config().audio_time_segments is None
    release = set(ADiffForConditionalGeneration(tiny_adiff_config()).state_dict())
    assert not any("segment" in name for name in release)
    assert {"model.audio_mapper_1.linear.weight", "model.audio_mapper_2.linear.bias"} <= release
    temporal = set(ADiffForConditionalGeneration(tiny_adiff_config(audio_time_segments=SEGMENTS)).state_dict())
    # segments swap each audio mapper's `linear` (one vector -> clip_length tokens) for a per-segment one
    mine = {f"model.audio_mapper_{i}.{p}" for i in (1, 2) for p in ("linear.weight", "linear.bias")}
    theirs = {
        f"model.audio_mapper_{i}.{p}"
        for i in (1, 2)
        for p in ("segment_linear.weight", "segment_linear.bias", "segment_embeddings")
    }
    assert release - temporal == mine and temporal - release == theirs


def test_time_order_reaches_the_prefix_where_one_vector_cannot(whisper_segments):
    """Two clips with the same frames in a different order (say, a gap before or after a burst) have the same mean:
    the single-vector model makes one prefix of both, the temporal model two."""
    temporal, _ = whisper_segments
    release = ADiffForConditionalGeneration(tiny_whisper_llama_config(projection_dropout=0.0)).eval()
    torch.manual_seed(1)
    first = torch.randn(1, 2, SEGMENTS, temporal.config.audio_embed_dim)
    reordered = torch.stack((first[:, 0], first[:, 1].flip(1)), dim=1)  # the second clip played back to front
    prompt = torch.zeros(1, temporal.config.prompt_length, dtype=torch.long)
    with torch.no_grad():
        heard = [temporal.get_prefix_embeds(prompt, audio_embeds=e) for e in (first, reordered)]
        pooled = [release.get_prefix_embeds(prompt, audio_embeds=e.mean(dim=2)) for e in (first, reordered)]
    torch.testing.assert_close(pooled[0], pooled[1], atol=1e-6, rtol=1e-6)
    assert (heard[0] - heard[1]).abs().max() > 1e-4


def test_segments_train_and_generate_from_log_mels_and_from_embeddings(whisper_segments):
    model, processor = whisper_segments
    inputs = processor(
        text=[PROMPT, "caption the first audio"],
        audio=[(tone(300, 1, 16000), noise(1, 16000)), (noise(1, 16000), tone(300, 1, 16000))],
        answer=["a tone versus noise.", "The audio 1 is noise."],
        sampling_rate=16000,
    )
    with torch.no_grad():
        embeds = model.get_clip_embeddings(inputs["input_features"])
        from_features = model(**inputs)
        from_embeds = model(input_ids=inputs["input_ids"], audio_embeds=embeds, labels=inputs["labels"])
    assert embeds.shape == (2, 2, SEGMENTS, 32)
    torch.testing.assert_close(from_embeds.logits, from_features.logits, atol=1e-5, rtol=1e-5)
    model.train()
    loss = model(**inputs).loss
    loss.backward()
    model.eval()
    mapper = model.model.audio_mapper_2
    grads = (mapper.segment_linear.weight.grad, mapper.segment_embeddings.grad)
    model.zero_grad()
    assert torch.isfinite(loss) and all(g is not None and g.abs().sum() > 0 for g in grads)
    prompt_only = {k: v for k, v in inputs.items() if k != "labels"}
    generated = model.generate(**prompt_only, max_new_tokens=4)
    assert generated.shape == (2, 4)
    assert torch.equal(model.generate(input_ids=inputs["input_ids"], audio_embeds=embeds, max_new_tokens=4), generated)


def test_htsat_segments_run_from_log_mels():
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(tiny_adiff_config(audio_time_segments=8)).eval()
    prompt = torch.zeros(2, model.config.prompt_length, dtype=torch.long)
    features = torch.randn(2, 2, 1001, 64) * 20 - 40
    with torch.no_grad():
        assert model.get_clip_embeddings(features).shape == (2, 2, 8, model.config.audio_embed_dim)
        prefix = model.get_prefix_embeds(prompt, features)
    assert prefix.shape == (2, model.config.num_prefix_tokens, model.config.text_config.hidden_size)
    assert torch.isfinite(prefix).all()
    assert model.generate(input_ids=prompt, input_features=features, max_new_tokens=3).shape == (2, 3)


def test_embedding_cache_keeps_segments_and_a_cached_training_step_runs(whisper_segments, clips, tmp_path):
    model, processor = whisper_segments
    files = [str(clips[name]) for name in ("tone", "high", "noise")]
    cache = ClipEmbeddingCache.compute(model, processor, files, batch_size=2)
    cache.save(tmp_path / "cache.safetensors")
    loaded = ClipEmbeddingCache.load(tmp_path / "cache.safetensors")
    assert set(loaded.embeddings) == set(files) and loaded.tower == cache.tower
    for path in files:
        assert loaded[path].shape == (SEGMENTS, 32)
        np.testing.assert_array_equal(loaded[path], cache[path])
    with torch.no_grad():
        direct = model.get_clip_embeddings(processor(text=PROMPT, audio=(files[0], files[2]))["input_features"])
    np.testing.assert_allclose(loaded[files[0]], direct[0, 0].numpy(), atol=1e-5)
    # a cache of one layout is never taken for the other: same tower weights, another fingerprint
    release = _with_tower_of(ADiffForConditionalGeneration(tiny_whisper_llama_config()), model)
    assert ClipEmbeddingCache.fingerprint(release) != loaded.tower == ClipEmbeddingCache.fingerprint(model)

    examples = [
        {"filepath1": files[0], "filepath2": files[2], "prompt": PROMPT, "answer": "a tone versus noise."},
        {"filepath1": files[1], "filepath2": files[0], "prompt": PROMPT, "answer": "higher versus lower."},
    ]
    batch = ADiffDataCollator(processor, embedding_cache=loaded)(examples)
    assert "input_features" not in batch and batch["audio_embeds"].shape == (2, 2, SEGMENTS, 32)
    trained = copy.deepcopy(model).train()  # the module's model stays as it was for the other tests
    head = [p for n, p in trained.named_parameters() if "audio_mapper" in n]
    before = [p.detach().clone() for p in head]
    optimizer = torch.optim.AdamW(head, lr=1e-2)
    loss = trained(**batch).loss
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert all(not torch.equal(b, p) for b, p in zip(before, head, strict=True))


def test_wrong_layouts_and_segment_counts_are_named(whisper_segments):
    model, _ = whisper_segments
    prompt = torch.zeros(1, model.config.prompt_length, dtype=torch.long)
    with pytest.raises(ValueError, match=r"audio_embeds must have shape \(batch_size, 2, 4, 32\).*audio_time_segm"):
        model(input_ids=prompt, audio_embeds=torch.zeros(1, 2, 32))
    with pytest.raises(ValueError, match=r"\(batch_size, 2, 4, 32\).*got \(1, 2, 3, 32\)"):
        model(input_ids=prompt, audio_embeds=torch.zeros(1, 2, 3, 32))
    release = ADiffForConditionalGeneration(tiny_whisper_llama_config())
    with pytest.raises(ValueError, match=r"\(batch_size, 2, 32\): this model takes one vector per clip"):
        release(input_ids=prompt, audio_embeds=torch.zeros(1, 2, SEGMENTS, 32))
    for bad in (0, -2, 2.5, True, "8"):
        with pytest.raises(ValueError, match="audio_time_segments must be None or a positive int"):
            tiny_whisper_llama_config(audio_time_segments=bad)
    with pytest.raises(ValueError, match="audio_time_segments=501 is more than the 500 time frames"):
        tiny_whisper_llama_config(audio_time_segments=501)
    with pytest.raises(ValueError, match="audio_time_segments=33 is more than the 32 time frames"):
        tiny_adiff_config(audio_time_segments=33)
    assert tiny_whisper_llama_config(audio_time_segments=10, audio_embed_frames=10).audio_time_frames == 10


def test_fresh_backbones_take_segments_and_the_exported_head_records_them(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM, WhisperConfig, WhisperModel

    from adiff_hf.backbones import assemble_model, build_model_from_backbones, export_head_weights

    torch.manual_seed(0)
    small = tiny_whisper_llama_config()
    audio = {k: v for k, v in small.audio_config.to_dict().items() if k != "model_type"}
    WhisperModel(WhisperConfig(**audio)).save_pretrained(tmp_path / "whisper")
    text = {k: v for k, v in small.text_config.to_dict().items() if k != "model_type"}
    LlamaForCausalLM(LlamaConfig(**text)).save_pretrained(tmp_path / "llm")
    shutil.copytree(TOKENIZER_DIR, tmp_path / "llm", dirs_exist_ok=True)
    head = {"projection_dim": 16, "mapper_num_layers": 1, "cross_num_layers": 1, "mapper_num_heads": 2}
    model, processor = build_model_from_backbones(
        str(tmp_path / "whisper"), str(tmp_path / "llm"), config_overrides=json.dumps(head | {"audio_time_segments": 8})
    )
    assert model.config.audio_time_segments == 8
    assert model.model.audio_mapper_1.segment_embeddings.shape == (8, 48)
    inputs = processor(text=PROMPT, audio=(tone(300, 1, 16000), noise(1, 16000)), sampling_rate=16000)
    assert model.get_clip_embeddings(inputs["input_features"]).shape == (1, 2, 8, 32)
    export_head_weights(model.eval(), tmp_path / "head")
    assert json.loads((tmp_path / "head" / "adiff_head.json").read_text())["audio_time_segments"] == 8
    out = assemble_model(tmp_path / "head", tmp_path / "whisper", tmp_path / "llm", tmp_path / "assembled")
    assembled = ADiffForConditionalGeneration.from_pretrained(out).eval()
    assert assembled.config.audio_time_segments == 8
    torch.testing.assert_close(
        assembled.model.audio_mapper_2.segment_embeddings, model.model.audio_mapper_2.segment_embeddings.half().float()
    )
    assert assembled.generate(**inputs, max_new_tokens=3).shape == (1, 3)
