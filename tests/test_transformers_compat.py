"""What breaks when transformers moves: the cache under both of its names, every decoding mode with and without a
cache, a model shared by threads, Trainer's evaluation outputs, the library's own output classes, and the attention
implementation, which the whole model switches together."""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from transformers import Cache, DynamicCache, StaticCache, Trainer, TrainingArguments
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

from adiff_hf import ADiffForConditionalGeneration, modeling_adiff
from adiff_hf.modeling_adiff import CACHE_NAME, ADiffAttention, ADiffCausalLMOutputWithPast, ADiffModelOutputWithPast
from adiff_hf.testing_utils import tiny_adiff_config, tiny_whisper_llama_config

PROMPTS = ["explain the difference between the two audio in detail", "caption the first audio"]

DECODING_MODES = {
    "greedy": {},
    "beams": {"num_beams": 3},
    "beams-2-returned": {"num_beams": 2, "num_return_sequences": 2},
    "top-k": {"do_sample": True, "top_k": 20},
    "top-p-2-returned": {"do_sample": True, "top_p": 0.9, "num_return_sequences": 2},
}


@pytest.fixture(scope="module")
def two_pairs(model_and_processor, variant):
    _, processor = model_and_processor
    return processor(text=PROMPTS, audio=[variant.pair(0), variant.pair(1)], sampling_rate=32000)


def test_outputs_are_the_librarys_own_classes_with_adiffs_fields_added():
    pairs = ((ADiffCausalLMOutputWithPast, CausalLMOutputWithPast), (ADiffModelOutputWithPast, BaseModelOutputWithPast))
    for ours, theirs in pairs:
        assert issubclass(ours, theirs)
        added = {f.name for f in dataclasses.fields(ours)} - {f.name for f in dataclasses.fields(theirs)}
        assert added == {"prefix_embeds"}
    assert CACHE_NAME in {f.name for f in dataclasses.fields(CausalLMOutputWithPast)}


@pytest.mark.parametrize("mode", DECODING_MODES.values(), ids=DECODING_MODES.keys())
def test_cached_decoding_gives_the_uncached_tokens(model_and_processor, two_pairs, mode):
    """A cache dropped between steps runs without error and changes the text: only this comparison catches it.
    Both of transformers' caches are checked: the static one (the model's default) and the dynamic one."""
    model, _ = model_and_processor
    kwargs = {"max_new_tokens": 24, "min_new_tokens": 24, **mode}
    caches = {"static": {}, "dynamic": {"cache_implementation": "dynamic"}, "uncached": {"use_cache": False}}
    runs = {}
    for name, extra in caches.items():
        torch.manual_seed(3)
        runs[name] = model.generate(**two_pairs, return_dict_in_generate=True, **kwargs, **extra)
    assert torch.equal(runs["dynamic"].sequences, runs["uncached"].sequences)
    assert torch.equal(runs["static"].sequences, runs["uncached"].sequences)
    assert len(set(runs["uncached"].sequences.flatten().tolist())) > 2  # a real decode, not one token repeated
    # the cache really was carried from step to step: it holds the prefix and every token fed back
    for name, cache_class in (("static", StaticCache), ("dynamic", DynamicCache)):
        cache = getattr(runs[name], CACHE_NAME)
        assert isinstance(cache, cache_class)
        assert cache.get_seq_length() == model.config.num_prefix_tokens + kwargs["max_new_tokens"] - 1


def test_a_cache_of_your_own_is_used(model_and_processor, two_pairs):
    model, _ = model_and_processor
    kwargs = {"max_new_tokens": 8, "min_new_tokens": 8}
    mine = DynamicCache()
    ids = model.generate(**two_pairs, cache_implementation=None, **{CACHE_NAME: mine}, **kwargs)
    assert torch.equal(ids, model.generate(**two_pairs, use_cache=False, **kwargs))
    assert mine.get_seq_length() == model.config.num_prefix_tokens + 7


@pytest.mark.parametrize("name", ["cache", "past_key_values"])
def test_forward_takes_the_cache_under_either_name(model_and_processor, two_pairs, name):
    """One step on a cached prefix gives the logits of the whole sequence run without a cache."""
    model, _ = model_and_processor
    with torch.no_grad():
        prefix = model(**two_pairs, use_cache=True)
        cache = getattr(prefix, CACHE_NAME)
        assert isinstance(cache, Cache) and cache.get_seq_length() == model.config.num_prefix_tokens
        step = model(input_ids=torch.tensor([[464], [318]]), use_cache=True, **{name: cache})
        assert getattr(step, CACHE_NAME).get_seq_length() == model.config.num_prefix_tokens + 1
        whole = model(**two_pairs, answer_ids=torch.tensor([[464], [318]]), use_cache=False)
    torch.testing.assert_close(step.logits[:, -1], whole.logits[:, -1], atol=1e-4, rtol=1e-4)


def test_generate_from_several_threads_gives_the_sequential_tokens_and_leaves_the_model_as_it_was(
    model_and_processor, two_pairs
):
    model, _ = model_and_processor
    before = {name: (p, p.data_ptr(), p.stride(), p.dtype) for name, p in model.named_parameters()}
    jobs = [{k: v[i % 2 : i % 2 + 1] for k, v in two_pairs.items()} for i in range(4)]
    kwargs = {"max_new_tokens": 16, "min_new_tokens": 16}
    sequential = [model.generate(**job, **kwargs) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda job: model.generate(**job, **kwargs), jobs))
    for alone, together in zip(sequential, threaded, strict=True):
        assert torch.equal(alone, together)
    after = {name: (p, p.data_ptr(), p.stride(), p.dtype) for name, p in model.named_parameters()}
    assert after.keys() == before.keys()
    for name, (param, ptr, stride, dtype) in before.items():
        now = after[name]
        assert now[0] is param and now[1:] == (ptr, stride, dtype), name


def test_trainer_evaluation_with_the_cache_on_returns_logits(model_and_processor, variant, tmp_path):
    model, processor = model_and_processor
    model.config.text_config.use_cache = True
    answers = ["A dog barks.", "A tone."]
    batch = processor(text=PROMPTS, audio=[variant.pair(0), variant.pair(1)], answer=answers, sampling_rate=32000)
    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True),
        processing_class=processor,
    )
    loss, logits, labels = trainer.prediction_step(model, dict(batch), prediction_loss_only=False)
    with torch.no_grad():
        expected = model(**batch)
    assert isinstance(logits, torch.Tensor)  # not a tuple holding a cache (or the prefix)
    torch.testing.assert_close(logits, expected.logits)
    torch.testing.assert_close(loss, expected.loss)
    assert torch.equal(labels, batch["labels"])


@pytest.mark.parametrize("tower", ["htsat", "whisper"])
def test_eager_attention_matches_sdpa_and_switches_with_the_model(tower, monkeypatch, tmp_path):
    """The mappers' and cross-projection's attention follows `attn_implementation` as the language model's does:
    `set_attn_implementation` and `from_pretrained(..., attn_implementation=...)` switch it, and eager gives SDPA's
    logits."""
    eager_calls = []
    eager = modeling_adiff.eager_attention_forward

    def counted(*args, **kwargs):
        eager_calls.append(1)
        return eager(*args, **kwargs)

    monkeypatch.setattr(modeling_adiff, "eager_attention_forward", counted)
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration((tiny_adiff_config if tower == "htsat" else tiny_whisper_llama_config)())
    model.eval()
    layers = sum(isinstance(module, ADiffAttention) for module in model.modules())
    generator = torch.Generator().manual_seed(0)
    shape = (2, 2, 1001, 64) if tower == "htsat" else (2, 2, 80, 3000)
    inputs = {
        "input_features": torch.randn(shape, generator=generator) * 10 - 40,
        "input_ids": torch.randint(2, 1000, (2, model.config.prompt_length), generator=generator),
    }

    def logits(model):
        eager_calls.clear()
        with torch.no_grad():
            return model(**inputs).logits

    assert model.config._attn_implementation == "sdpa"
    sdpa_logits = logits(model)
    assert not eager_calls
    model.set_attn_implementation("eager")
    assert model.config._attn_implementation == model.config.text_config._attn_implementation == "eager"
    torch.testing.assert_close(logits(model), sdpa_logits, atol=1e-5, rtol=1e-5)
    assert len(eager_calls) == layers
    # the mappers belong to the top-level model: its own entry switches them, and nothing else
    model.set_attn_implementation({"": "sdpa"})
    assert model.config.text_config._attn_implementation == "eager"
    logits(model)
    assert not eager_calls
    model.save_pretrained(tmp_path)
    loaded = ADiffForConditionalGeneration.from_pretrained(tmp_path, attn_implementation="eager").eval()
    torch.testing.assert_close(logits(loaded), sdpa_logits, atol=1e-5, rtol=1e-5)
    assert len(eager_calls) == layers
