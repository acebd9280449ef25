"""Model behaviour: batching, every decoding mode, silence, the full-size configuration."""

import json
import math

import numpy as np
import pytest
import torch
from transformers import TextStreamer

from adiff_hf import ADiffConfig, ADiffForConditionalGeneration, ADiffModel
from adiff_hf.conversion import convert_state_dict
from conftest import FIXTURES, noise, tone

PROMPTS = ["explain the difference between the two audio in detail", "caption the first audio"]


@pytest.fixture(scope="module")
def two_pairs(model_and_processor, variant):
    _, processor = model_and_processor
    return processor(text=PROMPTS, audio=[variant.pair(0), variant.pair(1)], sampling_rate=32000)


def _one(inputs, i):
    return {k: v[i : i + 1] for k, v in inputs.items()}


def _strip(ids, pad=50256):
    ids = ids.tolist()
    while ids and ids[-1] == pad:
        ids.pop()
    return ids


def test_batched_greedy_equals_one_at_a_time(model_and_processor, two_pairs):
    model, _ = model_and_processor
    batched = model.generate(**two_pairs, max_new_tokens=20)
    for i in range(2):
        alone = model.generate(**_one(two_pairs, i), max_new_tokens=20)
        assert _strip(batched[i]) == _strip(alone[0])


def test_beam_search_keeps_pairs_apart(model_and_processor, two_pairs):
    model, _ = model_and_processor
    kwargs = {"num_beams": 3, "max_new_tokens": 12, "return_dict_in_generate": True, "output_scores": True}
    batched = model.generate(**two_pairs, **kwargs)
    alone = [model.generate(**_one(two_pairs, i), **kwargs) for i in range(2)]
    for i in range(2):
        assert _strip(batched.sequences[i]) == _strip(alone[i].sequences[0])
        torch.testing.assert_close(batched.sequences_scores[i], alone[i].sequences_scores[0], atol=1e-5, rtol=1e-5)
    # the two pairs really are different problems: mixing them up would show in the scores
    assert abs(alone[0].sequences_scores[0] - alone[1].sequences_scores[0]) > 1e-3


def test_sampling_and_num_return_sequences(model_and_processor, two_pairs):
    model, _ = model_and_processor
    torch.manual_seed(0)
    sampled = model.generate(**two_pairs, do_sample=True, top_p=0.9, num_return_sequences=3, max_new_tokens=6)
    assert sampled.shape[0] == 6
    torch.manual_seed(0)
    again = model.generate(**two_pairs, do_sample=True, top_p=0.9, num_return_sequences=3, max_new_tokens=6)
    assert torch.equal(sampled, again)
    beams = model.generate(**two_pairs, num_beams=3, num_return_sequences=2, max_new_tokens=6)
    assert beams.shape[0] == 4


def test_text_streamer_prints_the_decoded_text(model_and_processor, two_pairs, capsys):
    model, processor = model_and_processor
    ids = model.generate(**_one(two_pairs, 0), max_new_tokens=8, streamer=TextStreamer(processor.tokenizer))
    printed = capsys.readouterr().out
    assert printed.strip() == processor.tokenizer.decode(ids[0]).strip()


def test_silence_gives_finite_outputs(model_and_processor):
    model, processor = model_and_processor
    silent = np.zeros(32000 * 3, dtype=np.float32)
    inputs = processor(text=PROMPTS, audio=[(silent, silent), (silent, tone(440, 2))], sampling_rate=32000)
    with torch.no_grad():
        out = model(**inputs)
    assert torch.isfinite(out.prefix_embeds).all() and torch.isfinite(out.logits).all()
    assert model.generate(**inputs, max_new_tokens=4).shape[0] == 2


def test_zero_audio_embedding_stays_finite_through_the_model(model_and_processor, two_pairs):
    """The release divides by the embedding's norm; a zero projected embedding must not become NaN."""
    model, _ = model_and_processor
    base = ADiffModel(model.config).eval()
    base.load_state_dict(model.model.state_dict())
    with torch.no_grad():
        base.audio_projection.layer_norm.weight.zero_()
        base.audio_projection.layer_norm.bias.zero_()  # every projected embedding is now exactly zero
        audio = base.get_audio_features(two_pairs["input_features"]).pooler_output
        prefix = base.get_prefix_embeds(two_pairs["input_ids"], two_pairs["input_features"])
    assert torch.equal(audio, torch.zeros_like(audio))
    assert torch.isfinite(prefix).all()


def test_loss_ignores_padding_and_is_per_example_consistent(model_and_processor, variant):
    model, processor = model_and_processor
    answers = ["A short one.", "A much longer answer that needs many more tokens than the other."]
    batch = processor(text=PROMPTS, audio=[variant.pair(0), variant.pair(1)], answer=answers, sampling_rate=32000)
    with torch.no_grad():
        logits = model(**batch).logits
        for i in range(2):
            alone = processor(text=PROMPTS[i], audio=variant.pair(i), answer=answers[i], sampling_rate=32000)
            length = alone["labels"].shape[1]
            torch.testing.assert_close(logits[i, :length], model(**alone).logits[0], atol=1e-4, rtol=1e-4)


def test_bad_model_inputs_are_named(model_and_processor, two_pairs):
    model, _ = model_and_processor
    with pytest.raises(ValueError, match="input_features must have shape"):
        model(input_ids=two_pairs["input_ids"], input_features=two_pairs["input_features"][:, 0])
    with pytest.raises(ValueError, match="prompt_length"):
        model(input_ids=two_pairs["input_ids"][:, :10], input_features=two_pairs["input_features"])
    with pytest.raises(ValueError, match="needs input_features"):
        model.generate(input_ids=two_pairs["input_ids"])
    bad_labels = torch.zeros(2, model.config.num_prefix_tokens + 3, dtype=torch.long)
    with pytest.raises(ValueError, match="-100"):
        model(**two_pairs, labels=bad_labels)


def test_generate_from_precomputed_prefix(model_and_processor, two_pairs):
    model, _ = model_and_processor
    with torch.no_grad():
        prefix = model.get_prefix_embeds(two_pairs["input_ids"], two_pairs["input_features"])
    assert prefix.shape == (2, model.config.num_prefix_tokens, model.config.text_config.hidden_size)
    assert torch.equal(
        model.generate(inputs_embeds=prefix, max_new_tokens=6), model.generate(**two_pairs, max_new_tokens=6)
    )


def test_default_config_is_the_full_size_release():
    """ADiffConfig() has exactly the parameters of the released checkpoint (shapes in the fixtures)."""
    shapes = json.loads((FIXTURES / "original_adiff_full_state_dict_shapes.json").read_text())
    original = {k: torch.empty(v, device="meta") for k, v in shapes.items()}
    converted, dropped = convert_state_dict(original)
    model = ADiffForConditionalGeneration(ADiffConfig())  # real tensors: ~1.2 GB, a few seconds
    ours = model.state_dict()
    expected_keys = {k for k in converted if k != "lm_head.weight"}  # tied to the word embeddings
    ours_keys = {k for k in ours if not k.endswith("relative_position_index") and k != "lm_head.weight"}
    assert ours_keys == expected_keys
    for key in expected_keys:
        assert tuple(ours[key].shape) == tuple(converted[key].shape), key
    params = sum(p.numel() for p in model.parameters())
    release = sum(
        math.prod(converted[k].shape) for k in expected_keys if "running_" not in k and "num_batches" not in k
    )
    assert params == release == 292_082_072
    assert sum(p.numel() for p in model.model.audio_tower.parameters()) == 27_534_488
    assert model.model.language_model.config.n_positions == 512
    assert dropped  # STFT/mel buffers, head and masks were dropped
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert torch.isfinite(model.model.audio_mapper_1.prefix_const).all()


def test_base_model_returns_language_model_states(model_and_processor, two_pairs):
    model, _ = model_and_processor
    base = ADiffModel(model.config)
    base.load_state_dict(model.model.state_dict())
    base.eval()
    with torch.no_grad():
        out = base(**two_pairs)
        full = model(**two_pairs)
    assert out.last_hidden_state.shape[:2] == (2, model.config.num_prefix_tokens)
    torch.testing.assert_close(model.lm_head(out.last_hidden_state), full.logits)


def test_noise_and_tone_give_different_prefixes(model_and_processor):
    model, processor = model_and_processor
    inputs = processor(text=PROMPTS, audio=[(noise(2), tone(440, 2)), (tone(440, 2), noise(2))], sampling_rate=32000)
    with torch.no_grad():
        prefix = model.get_prefix_embeds(inputs["input_ids"], inputs["input_features"])
    assert (prefix[0] - prefix[1]).abs().max() > 1e-3


def test_backward_reaches_every_part_with_activation_checkpointing(converted_dir, variant):
    import transformers

    model = transformers.AutoModelForMultimodalLM.from_pretrained(converted_dir)
    processor = transformers.AutoProcessor.from_pretrained(converted_dir)
    batch = processor(
        text=PROMPTS, audio=[variant.pair(0), variant.pair(1)], answer=["A tone.", "Noise."], sampling_rate=32000
    )
    model.train()
    model.activation_checkpointing_enable()
    loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    for part in ("audio_tower", "audio_projection", "audio_mapper_1", "audio_mapper_2", "text_mapper"):
        grads = [p.grad for p in getattr(model.model, part).parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), part
    assert model.model.cross_projection.layers[0].gradient_checkpointing
    assert model.lm_head.weight.grad is not None


def test_spec_augment_only_while_the_audio_tower_trains():
    from adiff_hf.modeling_adiff import drop_stripes
    from adiff_hf.testing_utils import tiny_adiff_config

    torch.manual_seed(0)
    features = torch.randn(2, 2, 1001, 64) * 20 - 40
    no_drop_path = {"audio_config": {"drop_path_rate": 0.0}}  # so SpecAugment is the only randomness in training
    model = ADiffForConditionalGeneration(tiny_adiff_config(**no_drop_path)).model
    # the whole model training with a frozen tower (as ADiffTrainer runs it) is no augmentation either
    for model_training, tower_training, differs in ((False, False, False), (True, False, False), (True, True, True)):
        model.train(model_training)
        model.audio_tower.train(tower_training)
        with torch.no_grad():
            first, second = (model.get_clip_embeddings(features) for _ in range(2))
        assert (not torch.equal(first, second)) == differs
    off = ADiffForConditionalGeneration(
        tiny_adiff_config(spec_augment_time_stripes=0, spec_augment_freq_stripes=0, **no_drop_path)
    ).model.train()
    with torch.no_grad():
        assert torch.equal(off.get_clip_embeddings(features), off.get_clip_embeddings(features))

    # the release's widths: 2 time stripes of at most 63 frames, 2 mel stripes of at most 7 bins, per example
    ones = torch.ones(64, 64, 1001, 1)
    time_zeroed = (drop_stripes(ones, 2, 2, 64)[:, 0, :, 0] == 0).sum(dim=1)
    freq_zeroed = (drop_stripes(ones, 1, 2, 8)[:, :, 0, 0] == 0).sum(dim=1)
    assert time_zeroed.max() <= 126 and freq_zeroed.max() <= 14
    assert time_zeroed.float().std() > 0 and (time_zeroed > 0).any()  # drawn per example
    # the bands take the batch's mean level of their mel bin; the rest of the log-mel is kept
    clips = features[0]
    augmented = model.spec_augment(clips)
    changed = ~torch.isclose(augmented, clips, atol=1e-4)
    level = clips.mean(dim=(0, 1), keepdim=True).expand_as(clips)
    assert changed.any() and torch.allclose(augmented[changed], level[changed], atol=1e-4)


def test_bfloat16_gives_finite_logits_and_generates(converted_dir, variant):
    """Half precision on CPU: bf16 weights give finite logits and decode, from float32 log-mels (the model casts
    them) as from bf16 ones, and the pipeline runs the bf16 model as it is."""
    import transformers

    model = transformers.AutoModelForMultimodalLM.from_pretrained(converted_dir, dtype=torch.bfloat16).eval()
    processor = transformers.AutoProcessor.from_pretrained(converted_dir)
    inputs = processor(text=PROMPTS, audio=[variant.pair(0), variant.pair(1)], sampling_rate=32000)
    with torch.no_grad():
        logits = model(**inputs).logits
        inputs["input_features"] = inputs["input_features"].to(torch.bfloat16)
        assert torch.equal(model(**inputs).logits, logits)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()
    ids = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8)
    assert ids.shape == (2, 8)
    pipe = transformers.pipeline("audio-difference", model=model, processor=processor)
    (result,) = pipe(*variant.pair(0), sampling_rate=32000, max_new_tokens=8)  # PROMPTS[0]: the detailed tier
    one = processor(text=PROMPTS[0], audio=variant.pair(0), sampling_rate=32000)
    assert result["generated_text"] == processor.batch_decode(model.generate(**one, max_new_tokens=8))[0]


def test_prefix_init_inputs_lets_the_audio_and_prompt_through(tmp_path):
    """A fresh head with the release's init gives nearly the same prefix whatever it hears or is asked; with
    prefix_init="inputs" the prefix follows both from the first step, and loading a checkpoint keeps its weights."""
    from adiff_hf.testing_utils import tiny_adiff_config

    features = torch.randn(2, 2, 1001, 64)
    ids = torch.zeros(2, 40, dtype=torch.long)
    ids[0, :4] = torch.tensor([20676, 391, 262, 3580])
    ids[1, :4] = torch.tensor([6597, 287, 3703, 220])

    def spread(prefix_init):
        torch.manual_seed(0)
        model = ADiffForConditionalGeneration(tiny_adiff_config(prefix_init=prefix_init)).eval()
        with torch.no_grad():
            asked = model.get_prefix_embeds(ids, features[[0, 0]])  # same audio, two prompts
            heard = model.get_prefix_embeds(ids[[0, 0]], features)  # same prompt, two pairs

        def apart(a, b):
            return (1 - torch.nn.functional.cosine_similarity(a, b, dim=-1).mean()).item()

        return model, apart(asked[0], asked[1]), apart(heard[0], heard[1])

    _, release_asked, release_heard = spread("release")
    model, asked, heard = spread("inputs")
    assert asked > 10 * release_asked and heard > 10 * release_heard
    layer = model.model.cross_projection.layers[0]
    assert not layer.attn.project.weight.any() and not layer.mlp.fc2.weight.any()
    assert model.model.text_mapper.prefix_const.std() < 0.1
    with torch.no_grad():
        layer.attn.project.weight.fill_(0.01)
    model.save_pretrained(tmp_path / "m")
    again = ADiffForConditionalGeneration.from_pretrained(tmp_path / "m")
    assert again.config.prefix_init == "inputs"
    torch.testing.assert_close(again.model.cross_projection.layers[0].attn.project.weight, layer.attn.project.weight)
    with pytest.raises(ValueError, match="prefix_init"):
        ADiffConfig(prefix_init="zeros")


def test_prefix_norm_puts_every_prefix_token_on_one_length():
    from adiff_hf.testing_utils import tiny_adiff_config

    features = torch.randn(2, 2, 1001, 64)
    ids = torch.zeros(2, 40, dtype=torch.long)
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(tiny_adiff_config(prefix_norm=2.5)).eval()
    with torch.no_grad():
        prefix = model.get_prefix_embeds(ids, features)
        model.config.prefix_norm = None
        raw = model.get_prefix_embeds(ids, features)
    torch.testing.assert_close(prefix.norm(dim=-1), torch.full(prefix.shape[:2], 2.5))
    torch.testing.assert_close(prefix, torch.nn.functional.normalize(raw, dim=-1) * 2.5)
    with pytest.raises(ValueError, match="prefix_norm"):
        ADiffConfig(prefix_norm=0)


def test_prompt_words_follow_the_prefix_as_they_are():
    """With prompt_words, the prompt's own word embeddings follow the release's prefix unchanged, and the labels,
    the loss and generate() use the longer prefix."""
    from adiff_hf.testing_utils import tiny_adiff_config

    features = torch.randn(2, 2, 1001, 64)
    ids = torch.zeros(2, 12, dtype=torch.long)
    ids[0, :4] = torch.tensor([20676, 391, 262, 3580])
    ids[1, :4] = torch.tensor([6597, 287, 3703, 220])
    torch.manual_seed(0)
    config = tiny_adiff_config(prompt_words=True, prompt_length=12, prefix_length=5)
    assert config.num_prefix_tokens == 3 * 5 + 1 + 12
    model = ADiffForConditionalGeneration(config).eval()
    with torch.no_grad():
        prefix = model.get_prefix_embeds(ids, features)
        model.config.prompt_words = False
        release = model.get_prefix_embeds(ids, features)
        model.config.prompt_words = True
    assert prefix.shape == (2, 28, 32)
    torch.testing.assert_close(prefix[:, :16], release)
    torch.testing.assert_close(prefix[:, 16:], model.get_input_embeddings()(ids))
    answer = torch.tensor([[40, 41, 42], [43, 44, 45]])
    labels = torch.cat((torch.full((2, 28), -100), answer), dim=1)
    out = model(input_ids=ids, input_features=features, answer_ids=answer, labels=labels)
    assert out.logits.shape[1] == 28 + 3 and torch.isfinite(out.loss)
    assert model.generate(input_ids=ids, input_features=features, max_new_tokens=2).shape == (2, 2)
