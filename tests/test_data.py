"""Difference CSVs, position captioning, prompt paraphrases and the collator."""

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adiff_hf.data import (
    CSV_COLUMNS,
    ADiffDataCollator,
    build_training_examples,
    caption_target,
    load_difference_csv,
    make_toy_difference_data,
)
from adiff_hf.prompts import TASK_PROMPTS, load_prompt_pools, tier_of_prompt
from conftest import SHARED

CSV_DIR = SHARED / "data" / "adiff_csv"
PROMPTS_JSON = CSV_DIR / "prompts.json"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_difference_data(
        tmp_path_factory.mktemp("toy"), num_clips=12, pairs_per_split={"train": 6, "validation": 2}
    )


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_released_csvs_are_read_against_an_audio_root(tmp_path):
    """ACD's released CSV: its relative paths resolve under the audio root; the first missing file is named."""
    source = CSV_DIR / "ACD" / "acd_val_adiff_fewwords_answer.csv"
    rows = list(csv.DictReader(open(source)))
    with pytest.raises(FileNotFoundError, match=rows[0]["filepath1"].split("/")[-1]) as error:
        load_difference_csv(source, audio_root=tmp_path)
    assert str(tmp_path) in str(error.value) and "missing_audio='skip'" in str(error.value)

    # give audio to the first three rows' clips: those rows load, the other 2,453 are skipped and counted
    for row in rows[:3]:
        for key in ("filepath1", "filepath2"):
            (tmp_path / row[key]).parent.mkdir(parents=True, exist_ok=True)
            sf.write(tmp_path / row[key], np.zeros(1600, dtype=np.float32), 16000)
    present = {r[k] for r in rows[:3] for k in ("filepath1", "filepath2")}
    expected = [r for r in rows if r["filepath1"] in present and r["filepath2"] in present]
    dataset, report = load_difference_csv(source, audio_root=tmp_path, missing_audio="skip", return_report=True)
    assert len(dataset) == report.rows == len(expected) >= 3
    assert report.skipped == len(rows) - len(expected) and report.missing_files
    assert dataset[0]["filepath1"] == str(tmp_path / rows[0]["filepath1"])
    assert dataset[0]["answer"] == rows[0]["answer"] and dataset[0]["tier"] == "few_words"
    assert dataset[0]["source"].endswith("acd_val_adiff_fewwords_answer.csv:2")


def test_all_audio_missing_with_skip_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="No rows with audio left"):
        load_difference_csv(
            CSV_DIR / "CLD" / "cld_validation_adiff_fewwords_answer.csv", tmp_path, missing_audio="skip"
        )


def test_bad_csvs_are_named(tmp_path, toy):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_difference_csv(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("filepath1,filepath2,answer\na.wav,b.wav,x\n")
    with pytest.raises(ValueError, match=r"bad.csv lacks the columns \['taskname', 'caption1', 'caption2', 'input'\]"):
        load_difference_csv(bad)
    row = dict.fromkeys(CSV_COLUMNS, "x") | {"answer": ""}
    with pytest.raises(ValueError, match=r"empty.csv, line 2: the column 'answer' is empty"):
        load_difference_csv(_write_csv(tmp_path / "empty.csv", [row]))
    with pytest.raises(ValueError, match="missing_audio"):
        load_difference_csv(toy["train"], missing_audio="ignore")


def test_own_pairs_with_own_prompts(tmp_path, toy):
    """Any CSV of the schema works: absolute paths, and prompts that are none of the tiers are kept verbatim."""
    clip = next((Path(toy["train"]).parent / "audio").glob("*.wav"))
    row = dict.fromkeys(CSV_COLUMNS, "") | {
        "taskname": "mine",
        "filepath1": str(clip),
        "filepath2": str(clip),
        "input": "which one is longer?",
        "answer": "Neither.",
    }
    dataset = load_difference_csv(_write_csv(tmp_path / "mine.csv", [row]), audio_root="/elsewhere")
    assert dataset[0]["tier"] is None and dataset[0]["filepath1"] == str(clip)
    examples = build_training_examples(dataset, load_prompt_pools(PROMPTS_JSON), caption_ratio=0.0)
    assert examples[0]["prompt"] == "which one is longer?" and examples[0]["task"] == "custom"
    with pytest.raises(ValueError, match="needs rows with caption1 and caption2"):
        build_training_examples(dataset, caption_ratio=1.0)


def test_tiers_are_recognised():
    assert tier_of_prompt("explain the difference in few words") == "few_words"
    assert tier_of_prompt("explain the difference in a sentence") == "sentence"
    assert tier_of_prompt("explain the difference in detail") == "detail"
    assert tier_of_prompt("Explain the difference between both audios in one extended sentence.") == "sentence"
    assert tier_of_prompt("caption the first audio") is None


def test_prompt_pools_from_the_release():
    pools = load_prompt_pools(PROMPTS_JSON)
    assert pools["few_words"][0] == TASK_PROMPTS["few_words"] and len(pools["few_words"]) == 94
    assert "Caption the first audio" in pools["caption_first"] and len(pools["caption_both"]) == 97
    assert load_prompt_pools() == {tier: [prompt] for tier, prompt in TASK_PROMPTS.items()}


def test_prompt_pool_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.json"):
        load_prompt_pools(tmp_path / "absent.json")
    (tmp_path / "p.json").write_text('{"WORD": ["a"]}')
    with pytest.raises(ValueError, match=r"p.json lacks the pools \['SENTENCE', 'DETAIL', 'FIRST', 'SECOND', 'BOTH'\]"):
        load_prompt_pools(tmp_path / "p.json")


def test_position_captioning_targets():
    assert caption_target("A dog barks.", "Rain falls", "caption_first") == "The audio 1 is a dog barks."
    assert caption_target("A dog barks.", "Rain falls", "caption_second") == "The audio 2 is rain falls."
    assert caption_target("TV noise", "rain", "caption_both") == "The audio 1 is TV noise. The audio 2 is rain."


def test_mix_ratio_tiers_and_paraphrases(toy):
    rows = load_difference_csv(toy["train"])
    pools = load_prompt_pools(PROMPTS_JSON)
    mix = build_training_examples(rows, pools, tiers=["few_words", "detail"], caption_ratio=0.5, seed=3)
    tasks = mix["task"]
    assert tasks.count("few_words") == tasks.count("detail") == 6 and "sentence" not in tasks
    captions = [e for e in mix if e["task"].startswith("caption")]
    assert len(captions) == 6  # 0.5 per difference example
    assert {e["task"] for e in captions} <= {"caption_first", "caption_second", "caption_both"}
    for example in captions:
        row = next(r for r in rows if (r["filepath1"], r["filepath2"]) == (example["filepath1"], example["filepath2"]))
        assert example["answer"] == caption_target(row["caption1"], row["caption2"], example["task"])
        assert example["prompt"] in pools[example["task"]]
    for example in mix:
        if example["task"] in ("few_words", "detail"):
            assert example["prompt"] in pools[example["task"]] + [
                f"explain the difference in {'few words' if example['task'] == 'few_words' else 'detail'}"
            ]
    assert len({e["prompt"] for e in mix if e["task"] == "few_words"}) > 2  # really paraphrased
    again = build_training_examples(rows, pools, tiers=["few_words", "detail"], caption_ratio=0.5, seed=3)
    assert again.to_list() == mix.to_list()  # deterministic given the seed
    # the length Trainer's group_by_length sampling reads: words in the answer
    assert mix["length"] == [len(e["answer"].split()) for e in mix] and min(mix["length"]) > 0
    plain = build_training_examples(rows, pools, caption_ratio=2.0, paraphrase=False)
    assert {e["prompt"] for e in plain if not e["task"].startswith("caption")} == set(rows["input"])
    assert sum(t.startswith("caption") for t in plain["task"]) == 36  # more than the 18 distinct: drawn again


def test_collator_labels_cover_answer_and_end_marker_only(toy, processor):
    rows = load_difference_csv(toy["train"])
    examples = [e for e in build_training_examples(rows, paraphrase=False)][:3]
    batch = ADiffDataCollator(processor, max_answer_length=None, crop="start")(examples)
    assert batch["input_features"].shape == (3, 2, 1001, 64) and batch["input_ids"].shape == (3, 40)
    tokenizer = processor.tokenizer
    for i, example in enumerate(examples):
        labels = batch["labels"][i].tolist()
        assert labels[: processor.num_prefix_tokens] == [-100] * processor.num_prefix_tokens
        answer = [t for t in labels[processor.num_prefix_tokens :] if t != -100]
        assert answer == tokenizer(example["answer"] + " <|endoftext|>")["input_ids"]
        assert answer[-2:] == [220, 50256]
    short = ADiffDataCollator(processor, max_answer_length=4)(examples)
    assert short["labels"].shape[1] == processor.num_prefix_tokens + 4
    prompt_only = ADiffDataCollator(processor, with_answers=False, crop="start")(examples)
    assert "labels" not in prompt_only
    assert np.array_equal(prompt_only["input_features"].numpy(), batch["input_features"].numpy())


def test_collator_names_a_vanished_file(toy, processor, tmp_path):
    rows = load_difference_csv(toy["train"])
    example = dict(build_training_examples(rows, paraphrase=False)[0])
    example["filepath2"] = str(tmp_path / "gone.wav")
    with pytest.raises(FileNotFoundError, match="gone.wav"):
        ADiffDataCollator(processor)([example])
    with pytest.raises(KeyError, match="remove_unused_columns=False"):
        ADiffDataCollator(processor)([{"prompt": "x"}])


def test_toy_data_is_split_by_clip_and_deterministic(tmp_path):
    first = make_toy_difference_data(tmp_path / "a", num_clips=12, pairs_per_split={"train": 6, "validation": 2})
    second = make_toy_difference_data(tmp_path / "b", num_clips=12, pairs_per_split={"train": 6, "validation": 2})
    clips = {}
    for split in ("train", "validation"):
        rows = list(csv.DictReader(open(first[split])))
        assert len(rows) == (18 if split == "train" else 6)
        clips[split] = {r[k] for r in rows for k in ("filepath1", "filepath2")}
        assert Path(first[split]).read_text() == Path(second[split]).read_text()
    assert not clips["train"] & clips["validation"]
    for name in clips["train"]:
        assert (Path(first["train"]).parent / name).read_bytes() == (Path(second["train"]).parent / name).read_bytes()
