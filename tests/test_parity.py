"""Converted checkpoints reproduce what the original ADIFF code computed (../shared/fixtures)."""

import numpy as np
import torch


def test_audio_embeddings_match_original(model_and_processor, variant):
    model, processor = model_and_processor
    features = processor.feature_extractor(list(variant.waveforms), return_tensors="pt")["input_features"]
    with torch.no_grad():
        latent = model.model.audio_tower(input_features=features).pooler_output
        projected = model.model.audio_projection(latent)
    # the front end differs from torchlibrosa by ~1e-5 dB; that is all the difference there is
    np.testing.assert_allclose(latent.numpy(), np.array(variant.reference["latent"]), atol=2e-3, rtol=1e-3)
    np.testing.assert_allclose(projected.numpy(), np.array(variant.reference["projected"]), atol=2e-3, rtol=1e-3)


def test_prefix_logits_and_greedy_match_original(model_and_processor, variant):
    model, processor = model_and_processor
    ref = variant.reference
    for index, (text, expected) in enumerate(zip(ref["prompt_texts"], ref["examples"], strict=True)):
        inputs = processor(text=[text], audio=[variant.pair(index)], sampling_rate=ref["sampling_rate"])
        assert inputs["input_ids"][0].tolist() == ref["prompt_ids"][index]
        with torch.no_grad():
            out = model(**inputs)
        np.testing.assert_allclose(out.prefix_embeds[0].numpy(), np.array(expected["prefix"]), atol=1e-4)
        last = out.logits[0, -1]
        first = np.array(expected["first_logits"])
        np.testing.assert_allclose(last[: len(first)].numpy(), first, atol=1e-5)
        assert last.topk(5).indices.tolist() == expected["first_logits_top5"]
        generated = model.generate(**inputs, max_new_tokens=len(expected["greedy_ids"]))
        assert generated[0].tolist() == expected["greedy_ids"]


def test_teacher_forcing_loss_matches_original(model_and_processor, variant):
    model, processor = model_and_processor
    ref = variant.reference
    answer = ref["teacher_forcing"]
    inputs = processor(
        text=[ref["prompt_texts"][0]], audio=[variant.pair(0)], answer=[answer["answer_text"]], sampling_rate=32000
    )
    prefix = model.config.num_prefix_tokens
    assert inputs["labels"][0, prefix:].tolist() == answer["answer_ids"]
    assert (inputs["labels"][0, :prefix] == -100).all()
    with torch.no_grad():
        loss = model(**inputs).loss
    assert abs(loss.item() - answer["loss"]) < 1e-4


def test_release_stop_token_ends_generation(model_and_processor, variant):
    """The release stops at 220 (the first token of " <|endoftext|>"): generate() must stop there too."""
    model, processor = model_and_processor
    inputs = processor(text=[variant.reference["prompt_texts"][0]], audio=[variant.pair(0)], sampling_rate=32000)
    assert model.generation_config.eos_token_id == [220, 50256]
    assert model.generation_config.max_new_tokens == 300
    first = model.generate(**inputs, max_new_tokens=1)[0, 0].item()
    stopped = model.generate(**inputs, max_new_tokens=5, eos_token_id=[first])
    assert stopped.shape[1] == 1
