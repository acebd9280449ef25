"""pipeline("audio-difference") in every call form, the saved custom pipeline in a fresh process, and any-to-any."""

import subprocess
import sys

import pytest
import soundfile as sf
import transformers

import adiff_hf  # noqa: F401  (registers the task)
from adiff_hf.audio_io import load_audio
from adiff_hf.prompts import TASK_PROMPTS

GEN = {"max_new_tokens": 6}


@pytest.fixture(scope="module")
def pipe(tiny_adiff_dir):
    return transformers.pipeline("audio-difference", model=str(tiny_adiff_dir))


def _direct(tiny_adiff_dir, prompt, a, b, **kwargs):
    model = adiff_hf.ADiffForConditionalGeneration.from_pretrained(tiny_adiff_dir).eval()
    processor = adiff_hf.ADiffProcessor.from_pretrained(tiny_adiff_dir)
    inputs = processor(text=prompt, audio=(str(a), str(b)))
    return processor.batch_decode(model.generate(**inputs, **(GEN | kwargs)))


def test_the_task_is_ours_and_defaults_to_the_detailed_tier(pipe, tiny_adiff_dir, clips):
    assert isinstance(pipe, adiff_hf.AudioDifferencePipeline)
    out = pipe(str(clips["tone"]), str(clips["noise"]), **GEN)
    assert out == [
        {"generated_text": _direct(tiny_adiff_dir, TASK_PROMPTS["detail"], clips["tone"], clips["noise"])[0]}
    ]


@pytest.mark.parametrize("tier", sorted(TASK_PROMPTS))
def test_every_tier_uses_its_prompt(pipe, tiny_adiff_dir, clips, tier):
    out = pipe(str(clips["tone"]), str(clips["high"]), tier=tier, **GEN)
    assert out[0]["generated_text"] == _direct(tiny_adiff_dir, TASK_PROMPTS[tier], clips["tone"], clips["high"])[0]


def test_own_prompt_and_audio_forms_agree(pipe, clips):
    prompt = "what is different about the second recording?"
    by_path = pipe(str(clips["tone"]), str(clips["noise"]), prompt=prompt, **GEN)
    wave1, rate = sf.read(clips["tone"], dtype="float32")
    wave2, _ = sf.read(clips["noise"], dtype="float32")
    by_array = pipe(wave1, wave2, sampling_rate=rate, prompt=prompt, **GEN)
    by_dict = pipe(
        {"array": wave1, "sampling_rate": rate}, {"array": wave2, "sampling_rate": rate}, prompt=prompt, **GEN
    )
    assert by_path == by_array == by_dict and isinstance(by_path[0]["generated_text"], str)


def test_batches_equal_one_at_a_time_and_generation_kwargs_pass_through(pipe, clips):
    pairs = [
        (str(clips["tone"]), str(clips["noise"])),
        (str(clips["noise"]), str(clips["high"])),
        (str(clips["high"]), str(clips["tone"])),
    ]
    batched = pipe(pairs, batch_size=2, tier="sentence", **GEN)
    assert batched == [pipe(a, b, tier="sentence", **GEN) for a, b in pairs]
    beams = pipe(pairs[:2], batch_size=2, num_beams=3, num_return_sequences=2, **GEN)
    assert [len(b) for b in beams] == [2, 2] and all("generated_text" in r for b in beams for r in b)
    one_token = pipe(*pairs[0], tier="sentence", max_new_tokens=1)[0]["generated_text"]
    six_tokens = batched[0][0]["generated_text"]
    assert (
        one_token and six_tokens.startswith(one_token) and len(one_token) < len(six_tokens)
    )  # max_new_tokens reached generate()


def test_bad_calls_are_named(pipe, clips):
    a = str(clips["tone"])
    with pytest.raises(ValueError, match="Unknown tier 'shout'"):
        pipe(a, a, tier="shout")
    with pytest.raises(ValueError, match="either `prompt` or `tier`"):
        pipe(a, a, tier="detail", prompt="x")
    with pytest.raises(ValueError, match="needs two clips"):
        pipe(a)
    with pytest.raises(ValueError, match=r"audio\[1\] must be a pair of two clips .* got 3"):
        pipe([(a, a), (a, a, a)])
    with pytest.raises(ValueError, match="prompt` must be a non-empty string"):
        pipe(a, a, prompt="  ")


def test_saved_custom_pipeline_loads_in_a_fresh_process(pipe, tmp_path, clips):
    pipe.save_pretrained(tmp_path)
    pipe.processor.save_pretrained(tmp_path)
    expected = pipe(str(clips["tone"]), str(clips["high"]), tier="few_words", **GEN)[0]["generated_text"]
    code = (
        "import sys; sys.modules['adiff_hf'] = None\n"  # the package is not importable: only the saved code runs
        "import transformers\n"
        f"pipe = transformers.pipeline(model={str(tmp_path)!r}, trust_remote_code=True)\n"
        "assert type(pipe).__name__ == 'AudioDifferencePipeline', type(pipe)\n"
        f"out = pipe({str(clips['tone'])!r}, {str(clips['high'])!r}, tier='few_words', max_new_tokens=6)\n"
        "print(out[0]['generated_text'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=3600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == expected.strip()


def test_any_to_any_plain_and_chat_forms(tiny_adiff_dir, pipe, clips):
    a, b = str(clips["noise"]), str(clips["tone"])
    expected = pipe(a, b, tier="sentence", **GEN)[0]["generated_text"]
    any_pipe = transformers.pipeline("any-to-any", model=str(tiny_adiff_dir))
    plain = any_pipe(text=TASK_PROMPTS["sentence"], audio=[a, b], return_full_text=False, **GEN)
    assert plain[0]["generated_text"] == expected
    chat = [
        {
            "role": "user",
            "content": [
                {"type": "audio", "path": a},
                {"type": "audio", "path": b},
                {"type": "text", "text": TASK_PROMPTS["sentence"]},
            ],
        }
    ]
    answer = any_pipe(text=chat, return_full_text=False, **GEN)
    assert answer[0]["generated_text"] == expected
    # arrays go in at the processor's rate (32 kHz), as with other any-to-any audio models
    wave = load_audio(a, 32000)
    by_array = any_pipe(text=TASK_PROMPTS["sentence"], audio=[wave, b], return_full_text=False, **GEN)
    assert by_array[0]["generated_text"] == expected


def test_return_evidence_adds_measurements_and_checked_claims(pipe, clips):
    from adiff_hf.evidence import check_claims, compare_clips

    a, b = str(clips["tone"]), str(clips["noise"])
    out = pipe(a, b, tier="few_words", return_evidence=True, **GEN)
    plain = pipe(a, b, tier="few_words", **GEN)
    evidence = compare_clips(a, b)
    assert out[0]["generated_text"] == plain[0]["generated_text"]
    assert out[0]["evidence"]["differences"] == evidence.sentences and evidence.findings
    assert out[0]["claims"] == [c.to_dict() for c in check_claims(out[0]["generated_text"], evidence)]
    many = pipe([(a, b), (b, b)], batch_size=2, tier="few_words", return_evidence=True, **GEN)
    assert many[0][0]["evidence"] == out[0]["evidence"]
    assert many[1][0]["evidence"]["differences"] == []  # the same clip twice
    assert "evidence" not in plain[0]
