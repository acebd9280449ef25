"""Pairs drawn without end (deterministic, package-level splits, direction-aware labels), the comparing ear (config,
save / load, remote code, inside ADIFF), its pretraining stage and the stages that follow it, and a head that ships
its ear."""

import copy
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
import torch

from adiff_hf import ADiffConfig, ADiffEarConfig, ADiffEarModel, ADiffForConditionalGeneration
from adiff_hf.data.changes import (
    EAR_CLASSES,
    IMPLEMENTATIONS,
    RATE,
    apply_change,
    change_class,
    describe_change,
    reversed_change,
)
from adiff_hf.data.pair_stream import DifferencePairStream, SpeakingExamples, load_sources, split_sources
from adiff_hf.evaluation.attributes import says_same
from adiff_hf.testing_utils import tiny_adiff_config
from conftest import TOKENIZER_DIR, melody, noise, tone

# no dropout: a resumed run then draws no random numbers, and must match an uninterrupted one exactly
TINY_EAR = {"channels": [4, 8], "time_strides": [2, 2], "hidden_size": 16, "num_mel_bins": 64, "dropout": 0.0}
ENV_SCRIPT = [sys.executable, "-m", "adiff_hf", "train"]


@pytest.fixture(scope="module")
def sources_json(tmp_path_factory):
    """Eighteen labelled clips in five packages (one of them unseen), of every source kind."""
    directory = tmp_path_factory.mktemp("sources")
    entries = []
    makers = {
        "tones": ("music", lambda i: tone(220 * (i + 1), 1.2)),
        "melodies": ("music", lambda i: melody(f0=150 + 40 * i, notes=6)),
        "hiss": ("sound", lambda i: noise(1.0, seed=i) * np.linspace(0.2, 1, RATE).astype(np.float32)),
        "voices": ("speech", lambda i: melody(f0=110 + 20 * i, note_seconds=0.12, notes=10, harmonics=20)),
        "sound-icons": ("music", lambda i: tone(660 + 100 * i, 0.8)),
    }
    for package, (kind, make) in makers.items():
        for i in range(4 if package != "sound-icons" else 2):
            path = directory / f"{package}_{i}.wav"
            sf.write(path, make(i), RATE)
            entry = {"path": path.name, "label": f"a {package} clip {i}", "package": package, "kind": kind}
            entries.append(entry | ({"split": "validation"} if i == 3 and package in ("tones", "hiss") else {}))
    (directory / "sources.json").write_text(json.dumps({"sources": entries}))
    return directory / "sources.json"


def _stream(sources_json, split="train", **kwargs):
    return DifferencePairStream(load_sources(sources_json), split, unseen_packages=("sound-icons",), **kwargs)


def test_pairs_are_a_function_of_seed_and_index_whatever_the_workers(sources_json):
    one = list(_stream(sources_json, seed=3, num_pairs=6))
    again = _stream(sources_json, seed=3).pair(4)
    np.testing.assert_array_equal(one[4]["audio1"], again["audio1"])
    assert one[4]["texts"] == again["texts"]
    loader = torch.utils.data.DataLoader(
        _stream(sources_json, seed=3, num_pairs=6), batch_size=None, num_workers=2, multiprocessing_context="fork"
    )
    by_workers = sorted(loader, key=lambda item: json.dumps(item["record"], sort_keys=True) + str(item["audio1"][:9]))
    alone = sorted(one, key=lambda item: json.dumps(item["record"], sort_keys=True) + str(item["audio1"][:9]))
    for a, b in zip(alone, by_workers, strict=True):
        np.testing.assert_array_equal(a["audio2"], b["audio2"])
    other_seed = _stream(sources_json, seed=4).pair(4)
    assert other_seed["texts"] != one[4]["texts"] or not np.array_equal(other_seed["audio1"], one[4]["audio1"])
    resumed = list(_stream(sources_json, seed=3, num_pairs=2, start=4))
    assert resumed[0]["texts"] == one[4]["texts"] and resumed[1]["texts"] == one[5]["texts"]


def test_splits_keep_packages_and_clips_apart(sources_json):
    splits = split_sources(load_sources(sources_json), unseen_packages=("sound-icons",))
    assert {s.package for s in splits["test_unseen"]} == {"sound-icons"}
    paths = [s.path for members in splits.values() for s in members]
    assert len(paths) == len(set(paths)) == 18
    assert {s.package for s in splits["validation"]} >= {"tones", "hiss"}  # a split named in the file is kept
    unseen = _stream(sources_json, "test_unseen", num_pairs=20)
    heard = {label for item in unseen for label in item["record"]["labels"]}
    assert heard and all(label.startswith("a sound-icons clip") for label in heard)
    train = {label for item in _stream(sources_json, num_pairs=40) for label in item["record"]["labels"]}
    assert not any("sound-icons" in label for label in train)
    with pytest.raises(ValueError, match="'validation' split holds"):
        DifferencePairStream(load_sources(sources_json)[:3], "validation")


def _rms(wave):
    return float(np.sqrt(np.mean(np.square(wave[: RATE // 2], dtype=np.float64))))


def test_labels_are_direction_aware_and_match_the_audio(sources_json):
    stream = _stream(sources_json, mix={"change": 1.0})
    louder = quieter = 0
    for index in range(60):
        item = stream.pair(index)
        label = EAR_CLASSES[int(np.argmax(item["change_target"]))]
        record = item["record"]
        if record["change"] == "gain":
            # the label is read from audio 2's side, whichever clip was changed, and has no changed clip
            assert label == ("louder" if _rms(item["audio2"]) > _rms(item["audio1"]) else "quieter")
            assert item["changed_clip"] == -100
            louder += label == "louder"
            quieter += label == "quieter"
            few = item["texts"]["few_words"].lower()
            # worded from either clip: "audio 2 is louder" or "audio 1 is quieter"
            assert ("audio 2" in few) == (("louder" in few) == (label == "louder"))
        elif record["change"] in ("lowpass", "reverb", "noise", "gap"):
            assert label == record["change"] and item["changed_clip"] == record["changed_clip"] - 1
            assert f"audio {record['changed_clip']}" in item["texts"]["few_words"].lower()
    assert louder and quieter
    assert change_class(describe_change("gain", 6.0), 1) == "quieter"
    assert change_class(describe_change("speed", 1.25), 2) == "speed_up"
    assert change_class(describe_change("pitch", 3.0), 1) == "pitch_down"
    assert reversed_change(describe_change("tempo", 1.25)).value == pytest.approx(0.8)
    with pytest.raises(ValueError, match="changed clip"):
        reversed_change(describe_change("reverb", 0.7))


def test_every_pair_kind_has_its_target(sources_json):
    stream = _stream(sources_json, mix={"identical": 1, "near_identical": 1, "sources": 1, "two_changes": 1})
    seen = set()
    for index in range(40):
        item = stream.pair(index)
        kind, target = item["record"]["kind"], item["change_target"]
        assert target.sum() == pytest.approx(1.0)
        seen.add(kind)
        if kind in ("identical", "near_identical"):
            assert target[EAR_CLASSES.index("same")] == 1 and says_same(item["texts"]["few_words"])
        elif kind == "sources":
            assert (
                target[EAR_CLASSES.index("sources")] == 1 and item["texts"]["caption_1"] != item["texts"]["caption_2"]
            )
        else:
            assert sorted(target[target > 0].tolist()) in ([0.5, 0.5], [1.0])
    assert seen == {"identical", "near_identical", "sources", "two_changes"}


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_every_implementation_of_a_change_makes_it(name):
    wave = (0.3 * tone(440, 1) + 0.1 * tone(5000, 1)).astype(np.float32)
    value = {"speed": 1.25, "reverb": 0.8, "echo": 0.2, "lowpass": 1000, "highpass": 2000, "noise": 10.0}
    value |= {"distortion": 30.0, "clipping": 0.2, "gap": 0.3}
    change = describe_change(name, value[name])

    def band(x, lo, hi):
        spectrum = np.abs(np.fft.rfft(x[:RATE] * np.hanning(len(x[:RATE]))))
        return float(spectrum[int(lo * len(x[:RATE]) / RATE) : int(hi * len(x[:RATE]) / RATE)].sum())

    for how in IMPLEMENTATIONS[name]:
        out = apply_change(wave, change, np.random.default_rng(0), implementation=how)
        assert np.isfinite(out).all() and np.abs(out).max() <= 1.0, how
        if name == "speed":
            assert len(out) == pytest.approx(len(wave) / 1.25, rel=0.01), how
        elif name in ("reverb", "echo"):
            assert len(out) > len(wave) and _rms(out[len(wave) :]) > 0.005, how
        elif name == "lowpass":
            assert band(out, 4000, 6000) < 0.1 * band(wave, 4000, 6000), how
        elif name == "highpass":
            assert band(out, 300, 600) < 0.2 * band(wave, 300, 600), how
        elif name == "noise":
            assert 10 * np.log10(np.mean(wave**2) / np.mean((out - wave) ** 2)) == pytest.approx(10.0, abs=0.5), how
        elif name in ("distortion", "clipping"):
            assert band(out, 1200, 1400) > 20 * band(wave, 1200, 1400), how
        elif name == "gap":
            silent = np.flatnonzero(out == 0)
            runs = np.split(silent, np.flatnonzero(np.diff(silent) != 1) + 1)
            assert max(len(r) for r in runs) >= 0.3 * RATE - 1, how


def test_speaking_examples_answer_each_task_in_its_form(sources_json):
    examples = SpeakingExamples(_stream(sources_json, seed=1, num_pairs=60))
    tasks = {}
    for example in examples:
        tasks.setdefault(example["task"], []).append(example["answer"])
        assert example["audio1"].dtype == np.float32 and example["prompt"]
    assert set(tasks) == {"few_words", "sentence", "detail", "caption_first", "caption_second", "caption_both"}
    assert all(a.startswith("The audio 1 is ") for a in tasks["caption_first"])
    assert all(a.startswith("The audio 2 is ") for a in tasks["caption_second"])
    assert np.median([len(a.split()) for a in tasks["detail"]]) > 2 * np.median(
        [len(a.split()) for a in tasks["few_words"]]
    )


def _tiny_adiff_with_ear(**overrides):

    return tiny_adiff_config(audio_config={"model_type": "adiff_ear", **TINY_EAR}, **overrides)


def test_ear_config_and_model_inside_adiff(tmp_path):
    config = _tiny_adiff_with_ear(audio_time_segments=4)
    assert isinstance(config.audio_config, ADiffEarConfig)
    assert config.audio_time_frames == config.audio_config.time_frames == 251  # 1001 frames, two halvings
    assert config.audio_embed_dim == 16
    model = ADiffForConditionalGeneration(config).eval()
    features = torch.randn(2, 2, 1001, 64) * 10 - 40
    embeds = model.get_clip_embeddings(features)
    assert embeds.shape == (2, 2, 4, 16)
    # each clip is heard next to its partner: swapping the clips swaps the embeddings
    torch.testing.assert_close(model.get_clip_embeddings(features.flip(1)), embeds.flip(1), atol=1e-5, rtol=1e-5)
    # ... and changing the partner changes a clip's embedding
    other = features.clone()
    other[:, 1] += 6.0
    assert not torch.allclose(model.get_clip_embeddings(other)[:, 0], embeds[:, 0])
    model.save_pretrained(tmp_path / "m")
    again = ADiffForConditionalGeneration.from_pretrained(tmp_path / "m").eval()
    assert isinstance(again.model.audio_tower, ADiffEarModel)
    torch.testing.assert_close(again.get_clip_embeddings(features), embeds)
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["audio_config"]
    assert saved["model_type"] == "adiff_ear" and saved["channels"] == [4, 8]
    with pytest.raises(ValueError, match="must be as long as each other"):
        ADiffEarConfig(channels=[4, 8], time_strides=[2])
    with pytest.raises(ValueError, match="reads pairs"):
        again.model.audio_tower(torch.zeros(2, 1001, 64))


def test_ear_model_loads_with_remote_code_only(tmp_path):
    """The ear, its heads read as words and the prompt's words after the prefix (adiff-mini's layout), all from the
    saved code alone."""
    from transformers import AutoTokenizer

    from adiff_hf import ADiffFeatureExtractor, ADiffProcessor
    from adiff_hf.data.changes import EAR_LABEL_WORDS

    ids = _label_token_ids(AutoTokenizer.from_pretrained(TOKENIZER_DIR))
    config = tiny_adiff_config(
        audio_config={"model_type": "adiff_ear", **TINY_EAR, "label_words": EAR_LABEL_WORDS},
        audio_time_segments=4,
        ear_word_prefix=True,
        ear_word_token_ids=ids,
        prompt_words=True,
    )
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(config).eval()
    processor = ADiffProcessor(
        ADiffFeatureExtractor(),
        AutoTokenizer.from_pretrained(TOKENIZER_DIR),
        num_prefix_tokens=config.num_prefix_tokens,
    )
    model.save_pretrained(tmp_path / "m")
    processor.save_pretrained(tmp_path / "m")
    waves = [tone(440, 2.0), tone(440, 2.0) * 0.3]
    inputs = processor(text=["explain the difference between the two audio in few words"], audio=[waves])
    expected = model.generate(**inputs, max_new_tokens=5)[0].tolist()
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules["adiff_hf"] = None  # only the saved code may be used
        import numpy as np, transformers
        model = transformers.AutoModelForMultimodalLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
        processor = transformers.AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)
        t = np.arange(64000) / 32000
        a = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        inputs = processor(text=["explain the difference between the two audio in few words"], audio=[(a, a * 0.3)])
        ids = model.generate(**inputs, max_new_tokens=5)
        print(json.dumps({"tower": type(model.model.audio_tower).__name__, "ids": ids[0].tolist()}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "m")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"tower": "ADiffEarModel", "ids": expected}
    assert config.num_prefix_tokens == 3 * config.prefix_length + 1 + config.prompt_length + 4


def _label_token_ids(tokenizer):
    from adiff_hf.data.changes import EAR_LABEL_WORDS

    return {
        head: [tokenizer(" " + word, add_special_tokens=False).input_ids for word in words]
        for head, words in EAR_LABEL_WORDS.items()
    }


def test_the_ears_heads_enter_the_prefix_as_words(tmp_path):
    from transformers import AutoTokenizer

    from adiff_hf import ADiffFeatureExtractor, ADiffProcessor
    from adiff_hf.data.changes import EAR_LABEL_WORDS

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    ids = _label_token_ids(tokenizer)
    ear = {"model_type": "adiff_ear", **TINY_EAR, "label_words": EAR_LABEL_WORDS}

    config = tiny_adiff_config(
        audio_config=ear, audio_time_segments=4, prefix_length=3, ear_word_prefix=True, ear_word_token_ids=ids
    )
    assert config.num_prefix_tokens == 3 * 3 + 1 + 4
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(config).eval()
    heads = model.model.audio_tower
    change = EAR_LABEL_WORDS["change"].index("louder")
    with torch.no_grad():  # an ear sure of what it hears: audio 2 louder, audio 1 a voice, audio 2 a sound effect
        for head in (heads.change_head, heads.clip_head):
            head.weight.zero_()
            head.bias.fill_(-40.0)
        heads.change_head.bias[change] = heads.clip_head.bias[1] = 40.0
        heads.kind_head.weight.zero_()
        heads.kind_head.bias.copy_(torch.tensor([40.0, -40.0, 0.0]))  # speech for both clips...
    features = torch.randn(2, 2, 1001, 64) * 10 - 40
    processor = ADiffProcessor(ADiffFeatureExtractor(), tokenizer, num_prefix_tokens=config.num_prefix_tokens)
    pair = [tone(440, 1.0), tone(440, 1.0) * 0.3]
    input_ids = processor(text=["explain the difference in few words"] * 2, audio=[pair, pair])["input_ids"]
    prefix = model.model.get_prefix_embeds(input_ids, features)
    assert prefix.shape == (2, config.num_prefix_tokens, 32)
    words = model.get_input_embeddings()

    def word(text):
        return words(torch.tensor(tokenizer(" " + text, add_special_tokens=False).input_ids)).mean(0).expand(2, -1)

    torch.testing.assert_close(prefix[:, -1], word("louder"))
    torch.testing.assert_close(prefix[:, -2], word("audio 2"))
    torch.testing.assert_close(prefix[:, -3], word("a voice"))
    torch.testing.assert_close(prefix[:, -4], word("a voice"))
    # an unsure head reads as a mixture: half "a voice", half "a musical sound"
    with torch.no_grad():
        heads.kind_head.bias.copy_(torch.tensor([0.0, 0.0, -40.0]))
    mixed = model.model.get_prefix_embeds(input_ids, features)[:, -3]
    torch.testing.assert_close(mixed, (word("a voice") + word("a musical sound")) / 2)
    # the processor's labels skip the longer prefix; training and decoding run on it
    batch = processor(text=["explain the difference in few words"], audio=[pair])
    labelled = processor(text=["explain the difference in few words"], audio=[pair], answer=["Audio 2 is louder."])
    assert (labelled["labels"][0, : config.num_prefix_tokens] == -100).all()
    assert torch.isfinite(model(**labelled).loss)
    assert model.generate(**batch, max_new_tokens=3).shape == (1, 3)
    # the heads are read from the audio itself: precomputed clip embeddings cannot carry them
    with pytest.raises(ValueError, match="give input_features, not audio_embeds"):
        model.model.get_prefix_embeds(input_ids, audio_embeds=model.get_clip_embeddings(features))
    # saved and loaded, the words and the heads come back
    prefix = model.model.get_prefix_embeds(input_ids, features)
    model.save_pretrained(tmp_path / "m")
    again = ADiffForConditionalGeneration.from_pretrained(tmp_path / "m").eval()
    assert again.config.ear_word_token_ids == ids and again.config.audio_config.label_words == EAR_LABEL_WORDS
    torch.testing.assert_close(again.model.get_prefix_embeds(input_ids, features), prefix)


def test_ear_words_need_an_ear_with_heads():
    from adiff_hf.data.changes import EAR_LABEL_WORDS

    with pytest.raises(ValueError, match="ear_word_prefix needs an ear that carries its heads"):
        _tiny_adiff_with_ear(ear_word_prefix=True)
    with pytest.raises(ValueError, match="ear_word_prefix needs an ear"):
        tiny_adiff_config(ear_word_prefix=True)  # HTSAT has no heads
    with pytest.raises(ValueError, match="label_words must name the classes of each head"):
        ADiffEarConfig(label_words={"change": ["louder"]})
    with pytest.raises(ValueError, match="names the two clips"):
        ADiffEarConfig(label_words={**EAR_LABEL_WORDS, "clip": ["audio 1"]})
    ear = {"model_type": "adiff_ear", **TINY_EAR, "label_words": EAR_LABEL_WORDS}
    with pytest.raises(ValueError, match="one token list per class"):
        tiny_adiff_config(audio_config=ear, ear_word_prefix=True, ear_word_token_ids={"change": [[1]]})
    config = tiny_adiff_config(audio_config=ear, ear_word_prefix=True)
    model = ADiffForConditionalGeneration(config)
    with pytest.raises(ValueError, match="ear_word_token_ids is not"):
        model.model.get_prefix_embeds(torch.zeros(1, 40, dtype=torch.long), torch.zeros(1, 2, 1001, 64))


def _tiny_lm(directory):
    import shutil

    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, n_positions=256)).save_pretrained(directory)
    shutil.copytree(TOKENIZER_DIR, directory, dirs_exist_ok=True)
    return directory


def _train(args):
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "2"}
    result = subprocess.run(
        ENV_SCRIPT + [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, **env},
        timeout=3600,  # a guard against hangs only
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


COMMON = ["--use_cpu", "--disable_tqdm", "true", "--report_to", "none", "--logging_steps", "1"]


# the language model also reads the ear's heads as words
EAR_THEN_SPEAK_OVERRIDES = {"audio_time_segments": 4, "projection_dim": 16, "prefix_length": 4, "ear_word_prefix": True}


@pytest.fixture(scope="module")
def ear_then_speak(sources_json, tmp_path_factory):
    """`--stages ear,1` on the tiny sources: a tiny ear, then a tiny GPT-2 taught to speak from it."""
    out = tmp_path_factory.mktemp("run")
    lm = _tiny_lm(tmp_path_factory.mktemp("lm"))
    _train(
        ["--stages", "ear,1", "--sources", sources_json, "--text_decoder", lm, "--output_dir", out]
        + ["--ear_config", json.dumps(TINY_EAR), "--ear_max_steps", "6", "--stage1_max_steps", "3"]
        + ["--per_device_train_batch_size", "4", "--stream_eval_pairs", "8", "--save_steps", "3"]
        + ["--learning_rate", "3e-3", "--num_generation_samples", "0"]
        + ["--config_overrides", json.dumps(EAR_THEN_SPEAK_OVERRIDES)]
        + COMMON
    )
    return out


def test_ear_stage_saves_an_ear_with_its_measurements(ear_then_speak):
    ear_dir = ear_then_speak / "ear"
    ear = ADiffEarModel.from_pretrained(ear_dir)
    assert ear.config.channels == [4, 8]
    summary = json.loads((ear_dir / "ear_summary.json").read_text())
    assert summary["global_step"] == 6 and summary["pairs_seen"] == 24
    for split in ("validation", "test_unseen"):
        scores = summary[split]
        assert scores["pairs"] == 8 and 0 <= scores["change_type"] <= 1 and 0 <= scores["changed_clip"] <= 1
    assert (ear_dir / "checkpoint-6" / "trainer_state.json").is_file()
    # the following stage hears with that very ear, frozen
    stage1 = ADiffForConditionalGeneration.from_pretrained(ear_then_speak / "stage1")
    for name, tensor in ear.state_dict().items():
        assert torch.equal(stage1.model.audio_tower.state_dict()[name], tensor), name
    # ... and reads its heads as the tokenizer's words for their classes
    from transformers import AutoTokenizer

    assert stage1.config.num_prefix_tokens == 3 * 4 + 1 + 4
    tokenizer = AutoTokenizer.from_pretrained(ear_then_speak / "stage1")
    assert stage1.config.ear_word_token_ids == _label_token_ids(tokenizer)
    stage = json.loads((ear_then_speak / "stage1" / "stage_summary.json").read_text())
    assert stage["global_step"] == 3 and stage["train_examples"] == 12
    assert stage["data"]["sources"].endswith("sources.json")
    assert set(stage["tasks"]) == {"few_words", "caption_first", "caption_second", "caption_both"}


def test_ear_stage_resumes_at_the_stream_item_where_it_stopped(ear_then_speak, sources_json, tmp_path):
    import shutil

    shutil.copytree(ear_then_speak / "ear" / "checkpoint-3", tmp_path / "ear" / "checkpoint-3")
    result = _train(
        ["--stage", "ear", "--sources", sources_json, "--output_dir", tmp_path, "--ear_config", json.dumps(TINY_EAR)]
        + ["--max_steps", "6", "--per_device_train_batch_size", "4", "--stream_eval_pairs", "8", "--save_steps", "3"]
        + ["--learning_rate", "3e-3", "--resume_from_checkpoint", "true"]
        + COMMON
    )
    assert "resuming at stream item 12" in result.stderr
    resumed = ADiffEarModel.from_pretrained(tmp_path / "ear").state_dict()
    straight = ADiffEarModel.from_pretrained(ear_then_speak / "ear").state_dict()
    for name, tensor in straight.items():
        torch.testing.assert_close(resumed[name].float(), tensor.float(), atol=1e-5, rtol=1e-4, msg=name)


def test_a_head_that_ships_its_ear_assembles_without_an_audio_backbone(ear_then_speak, tmp_path):
    from adiff_hf.backbones import assemble_model, export_head_weights

    model = ADiffForConditionalGeneration.from_pretrained(ear_then_speak / "stage1")
    export_head_weights(model, tmp_path / "head", dtype=torch.float32)
    head = json.loads((tmp_path / "head" / "adiff_head.json").read_text())
    assert head["audio_config"]["model_type"] == "adiff_ear"
    lm = _tiny_lm(tmp_path / "lm")
    out = assemble_model(tmp_path / "head", None, lm, tmp_path / "assembled")
    assembled = ADiffForConditionalGeneration.from_pretrained(out)
    for name, tensor in model.state_dict().items():
        # BatchNorm's count of training batches is not shipped: inference does not read it
        if not name.startswith(("model.language_model", "lm_head")) and not name.endswith("num_batches_tracked"):
            assert torch.equal(assembled.state_dict()[name], tensor), name
    config = ADiffConfig.from_pretrained(out)
    assert isinstance(config.audio_config, ADiffEarConfig)
    assert config.ear_word_prefix and config.ear_word_token_ids == model.config.ear_word_token_ids
    assert config.audio_config.label_words == model.config.audio_config.label_words


def test_speaking_batches_ask_one_task_and_do_not_depend_on_workers(sources_json):
    def examples():
        return SpeakingExamples(_stream(sources_json, seed=2, num_pairs=16, start=4), task_block=4)

    alone = list(examples())
    assert len(alone) == 16
    blocks = [{e["task"] for e in alone[i : i + 4]} for i in range(0, 16, 4)]
    assert all(len(b) == 1 for b in blocks) and len(set.union(*blocks)) > 1
    loader = torch.utils.data.DataLoader(
        examples(), batch_size=4, num_workers=2, multiprocessing_context="fork", collate_fn=lambda batch: batch
    )
    batches = [[e["answer"] for e in batch] for batch in loader]
    assert batches == [[e["answer"] for e in alone[i : i + 4]] for i in range(0, 16, 4)]


def test_what_each_clip_holds_is_scored(sources_json, processor):
    from adiff_hf.evaluation.contents import measure_contents, mentions_voice, names_kind

    assert mentions_voice("The audio 1 is a woman saying 'yes'.") and not mentions_voice("A marimba melody.")
    assert names_kind("a snare struck four times", "music") and not names_kind("a snare", "speech")
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(_tiny_adiff_with_ear(audio_time_segments=4)).eval()
    processor = copy.copy(processor)  # the fixture is shared by the session: leave it as it was
    processor.num_prefix_tokens = model.config.num_prefix_tokens
    items = list(_stream(sources_json, seed=5, mix={"sources": 1.0}, num_pairs=12))
    scores = measure_contents(model, processor, items, batch_size=6)
    mixed = sum(sum(i["record"]["speech"]) == 1 for i in items)
    assert scores["pairs"] == 12 and scores["speech_against_other_pairs"] == mixed > 0
    assert len(scores["captions"]["answers"]) == scores["captions"]["captions"] == 2 * mixed
    assert len(scores["detail"]["answers"]) == 12
    for value in (scores["captions"]["voice_exactly_when_speech"], scores["sentence"]["says_what_each_holds"]):
        assert 0.0 <= value <= 1.0
