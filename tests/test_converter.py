"""The converter reads every checkpoint layout, infers sizes, checks mel filters and refuses what it can't map."""

import json

import pytest
import torch
from safetensors.torch import load_file

from adiff_hf.conversion import check_mel_filters, convert_checkpoint, infer_config, load_original_state_dict
from adiff_hf.feature_extraction_adiff import ADiffFeatureExtractor
from conftest import TOKENIZER_DIR


def test_sizes_are_inferred_from_the_tensors(variant):
    spec = variant.reference["variant"]
    config = infer_config(
        load_original_state_dict(variant.checkpoint),
        text_config=json.loads(variant.text_config.read_text()) if variant.text_config else None,
    )
    assert config.audio_config.patch_embeds_hidden_size == spec["htsat"]["embed_dim"]
    assert list(config.audio_config.depths) == list(spec["htsat"]["depths"])
    assert list(config.audio_config.num_attention_heads) == list(spec["htsat"]["num_heads"])
    assert config.audio_config.hidden_size == spec["latent"]
    assert config.projection_dim == spec["d_proj"]
    assert config.text_config.n_embd == spec["gpt"]["n_embd"]
    assert config.text_config.n_layer == spec["gpt"]["n_layer"]


@pytest.mark.parametrize("layout", ["module", "state_dict", "model"])
def test_wrapped_checkpoints_convert_identically(variant, converted_dir, tmp_path, layout):
    original = torch.load(variant.checkpoint, weights_only=True)
    if layout == "module":
        wrapped = {f"module.{k}": v for k, v in original.items()}
    else:
        wrapped = {layout: original, "epoch": torch.tensor(3)}
    path = tmp_path / "wrapped.pth"
    torch.save(wrapped, path)
    convert_checkpoint(
        path, tmp_path / "out", text_config=variant.text_config, tokenizer=TOKENIZER_DIR, log=lambda *a: None
    )
    ours, reference = load_file(tmp_path / "out" / "model.safetensors"), load_file(converted_dir / "model.safetensors")
    assert ours.keys() == reference.keys()
    assert all(torch.equal(ours[k], reference[k]) for k in ours)


def test_converter_reports_what_it_dropped(variant, tmp_path):
    lines = []
    convert_checkpoint(
        variant.checkpoint, tmp_path / "out", text_config=variant.text_config, tokenizer=TOKENIZER_DIR, log=lines.append
    )
    report = "\n".join(lines)
    for what in ("STFT / mel buffers", "classification head", "attention masks"):
        assert what in report


def test_unknown_keys_are_refused(variant, tmp_path):
    original = torch.load(variant.checkpoint, weights_only=True)
    original["caption_decoder.mystery.weight"] = torch.zeros(3)
    torch.save(original, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match="Unknown keys.*mystery"):
        convert_checkpoint(
            tmp_path / "odd.pth", tmp_path / "out", text_config=variant.text_config, tokenizer=TOKENIZER_DIR
        )


def test_mel_filters_from_the_yaml_values_are_refused(variant):
    state_dict = load_original_state_dict(variant.checkpoint)
    check_mel_filters(state_dict, ADiffFeatureExtractor())  # the real one passes
    wrong = ADiffFeatureExtractor(frequency_max=8000).mel_filters_slaney  # what the release's yaml claims
    state_dict["audio_encoder.base.htsat.logmel_extractor.melW"] = torch.from_numpy(wrong).float()
    with pytest.raises(ValueError, match="fmax=8000"):
        check_mel_filters(state_dict, ADiffFeatureExtractor())


def test_heads_the_tensors_cannot_tell_must_fit(variant):
    heads = variant.reference["variant"]["gpt"]["n_embd"] + 1  # never divides the width the tensors show
    with pytest.raises(ValueError, match=f"not divisible by n_head={heads}: pass --text-config"):
        infer_config(load_original_state_dict(variant.checkpoint), text_config={"n_head": heads})


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        load_original_state_dict(tmp_path / "nothing.pth")
