"""`adiff-hf explain --pairs PAIRS --output OUT`: every pair of a CSV, a JSONL or a `datasets` dataset, in input
order, the same explanation as the one-pair path, resumable after a kill; a dataset written out; the pipeline on a
dataset or an iterable of pairs."""

import json
import shutil

import pytest

from adiff_hf.data.jsonl import read_jsonl
from adiff_hf.serving.batch import read_pair_rows
from conftest import run_cli

GEN = ["--max-new-tokens", "6"]


@pytest.fixture(scope="module")
def pair_files(clips, tmp_path_factory):
    """A folder with the clips, and a CSV and a JSONL of five pairs naming them by relative path (mixed tiers)."""
    folder = tmp_path_factory.mktemp("pairs")
    for path in clips.values():
        shutil.copy(path, folder / path.name)
    pairs = [
        ("tone.wav", "high.wav", "", "take 1"),
        ("high.wav", "noise.wav", "few_words", "take 2"),
        ("noise.wav", "tone.wav", "", "take 3"),
        ("tone.wav", "tone.wav", "sentence", "take 4"),
        (str(folder / "noise.wav"), "high.wav", "", "take 5"),  # an absolute path too
    ]
    with open(folder / "pairs.csv", "w", encoding="utf-8") as f:
        f.write("audio1,audio2,tier,note\n" + "".join(f"{a},{b},{t},{n}\n" for a, b, t, n in pairs))
    with open(folder / "pairs.jsonl", "w", encoding="utf-8") as f:
        for a, b, t, n in pairs:
            f.write(json.dumps({"audio1": a, "audio2": b, "note": n} | ({"tier": t} if t else {})) + "\n")
    return folder


def _one_pair(model_dir, first, second, tier=None):
    args = ["explain", first, second, "--model", model_dir, "--json", *GEN] + (["--tier", tier] if tier else [])
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["explanation"]


@pytest.mark.parametrize("name", ["pairs.csv", "pairs.jsonl"])
def test_every_pair_in_order_as_the_one_pair_path_explains_it(tiny_adiff_dir, pair_files, tmp_path, name):
    output = tmp_path / "out.jsonl"
    done = run_cli(
        "explain",
        "--pairs",
        pair_files / name,
        "--output",
        output,
        "--model",
        tiny_adiff_dir,
        *GEN,
        "--batch-size",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert "Explained 5 pairs" in done.stdout
    records = read_jsonl(output)
    assert [r["row"] for r in records] == [0, 1, 2, 3, 4]
    assert [r["note"] for r in records] == [f"take {i}" for i in range(1, 6)]  # other columns carried over
    for record in records[:4]:
        first, second = (str(pair_files / record[k]) for k in ("audio1", "audio2"))
        tier = record.get("tier") or None
        assert record["explanation"] == _one_pair(tiny_adiff_dir, first, second, tier)
    assert records[1]["prompt"] != records[0]["prompt"]  # the row's own tier


def test_a_killed_run_resumes_without_redoing_finished_rows(tiny_adiff_dir, pair_files, tmp_path):
    whole, resumed = tmp_path / "whole.jsonl", tmp_path / "resumed.jsonl"
    args = ["--model", tiny_adiff_dir, *GEN, "--batch-size", "2"]
    assert run_cli("explain", "--pairs", pair_files / "pairs.csv", "--output", whole, *args).returncode == 0
    lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    # two rows finished, the third cut off mid-line (the process was killed while writing)
    finished = [json.loads(line) for line in lines[:2]]
    finished[0]["explanation"] = "kept as written"  # a finished row is not explained again
    resumed.write_text("".join(json.dumps(r) + "\n" for r in finished) + lines[2][:15], encoding="utf-8")
    assert run_cli("explain", "--pairs", pair_files / "pairs.csv", "--output", resumed, *args).returncode == 0
    again = read_jsonl(resumed)
    assert [r["row"] for r in again] == [0, 1, 2, 3, 4]
    assert again[0]["explanation"] == "kept as written"
    assert [r["explanation"] for r in again[1:]] == [r["explanation"] for r in read_jsonl(whole)[1:]]


def test_evidence_and_grounded_rows(tiny_adiff_dir, pair_files, tmp_path):
    measured, grounded = tmp_path / "measured.jsonl", tmp_path / "grounded.jsonl"
    common = ["--pairs", pair_files / "pairs.jsonl", "--model", tiny_adiff_dir, *GEN]
    assert run_cli("explain", *common, "--output", measured, "--evidence").returncode == 0
    rows = read_jsonl(measured)
    assert all("differences" in r["evidence"] and isinstance(r["claims"], list) for r in rows)
    assert rows[3]["evidence"]["differences"] == []  # tone against itself: no measured difference
    assert run_cli("explain", *common, "--output", grounded, "--grounded", "2").returncode == 0
    rows = read_jsonl(grounded)
    assert all(len(r["candidates"]) == 2 and r["chosen"] in (1, 2) for r in rows)


@pytest.mark.parametrize(
    "content, message",
    [
        ("audio1,audio2\ntone.wav,\n", "row 1 has no audio2"),
        ("first,second\na.wav,b.wav\n", "row 1 has no audio1 and no audio2"),
        ("audio1,audio2\n", "no pairs"),
    ],
)
def test_a_bad_pairs_file_is_named_with_its_row(tmp_path, content, message):
    path = tmp_path / "pairs.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_pair_rows(path)
    done = run_cli("explain", "--pairs", path, "--output", tmp_path / "out.jsonl")
    assert done.returncode == 1 and "pairs.csv" in done.stderr and message in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["a.wav", "b.wav", "--pairs", "p.csv", "--output", "o.jsonl"], "not both"),
        (["--pairs", "p.csv"], "--pairs needs --output"),
        (["--pairs", "p.csv", "--output", "o.jsonl", "--plot", "x.png"], "--plot draws one pair"),
        (["a.wav", "b.wav", "--output", "o.jsonl"], "--output and --split go with --pairs"),
        ([], "give two audio files"),
    ],
)
def test_conflicting_options_are_refused(args, message):
    done = run_cli("explain", *args)
    assert done.returncode == 2 and message in done.stderr


@pytest.fixture(scope="module")
def pair_dataset(pair_files, tmp_path_factory):
    """The first four pairs of `pairs.csv` as a `datasets` dataset with two Audio columns of other names (the
    audio embedded by `save_to_disk`), and the same as Parquet."""
    import datasets

    rows = read_pair_rows(pair_files / "pairs.csv")[:4]
    table = {
        "before": [str(pair_files / r["audio1"]) for r in rows],
        "after": [str(pair_files / r["audio2"]) for r in rows],
        "tier": [r["tier"] for r in rows],
        "note": [r["note"] for r in rows],
    }
    dataset = datasets.Dataset.from_dict(table)
    dataset = dataset.cast_column("before", datasets.Audio()).cast_column("after", datasets.Audio())
    folder = tmp_path_factory.mktemp("dataset")
    dataset.save_to_disk(folder / "saved")
    datasets.DatasetDict({"test": dataset, "train": dataset}).save_to_disk(folder / "splits")
    dataset.to_parquet(folder / "pairs.parquet")
    return folder


def test_a_dataset_in_and_out_gives_the_file_run_explanations(tiny_adiff_dir, pair_files, pair_dataset, tmp_path):
    import datasets

    args = ["--model", tiny_adiff_dir, *GEN, "--batch-size", "3"]
    assert (
        run_cli("explain", "--pairs", pair_files / "pairs.csv", "--output", tmp_path / "f.jsonl", *args).returncode == 0
    )
    expected = [r["explanation"] for r in read_jsonl(tmp_path / "f.jsonl")[:4]]
    saved, parquet = tmp_path / "saved_out", tmp_path / "out.parquet"
    done = run_cli("explain", "--pairs", pair_dataset / "saved", "--output", parquet, *args)
    assert done.returncode == 0, done.stderr
    table = datasets.load_dataset("parquet", data_files=str(parquet))["train"]
    assert table["explanation"] == expected and table["note"] == [f"take {i}" for i in range(1, 5)]
    assert table["audio1"] == ["tone.wav", "high.wav", "noise.wav", "tone.wav"]  # an embedded cell: its file name
    done = run_cli("explain", "--pairs", pair_dataset / "pairs.parquet", "--output", saved, "--evidence", *args)
    assert done.returncode == 0, done.stderr
    written = datasets.load_from_disk(str(saved))
    assert written["explanation"] == expected
    assert json.loads(written[3]["evidence"])["differences"] == []  # tone against itself; nested fields as JSON
    # a dataset of several splits needs --split; the one named is explained
    done = run_cli("explain", "--pairs", pair_dataset / "splits", "--output", tmp_path / "s.jsonl", *args)
    assert done.returncode == 1 and "--split (test, train)" in done.stderr
    split = ["--split", "test", "--output", tmp_path / "s.jsonl"]
    assert run_cli("explain", "--pairs", pair_dataset / "splits", *split, *args).returncode == 0
    assert [r["explanation"] for r in read_jsonl(tmp_path / "s.jsonl")] == expected


def test_a_folder_of_data_files_is_a_dataset_of_pairs(tiny_adiff_dir, pair_files, tmp_path):
    """A folder holding only data files (`load_dataset(folder)`: here a CSV), its audio paths relative to it."""
    folder = tmp_path / "listed"
    folder.mkdir()
    rows = read_pair_rows(pair_files / "pairs.csv")[:3]
    lines = [f"{pair_files / r['audio1']},../{pair_files.name}/{r['audio2']},{r['tier']},{r['note']}\n" for r in rows]
    (folder / "pairs.csv").write_text("audio1,audio2,tier,note\n" + "".join(lines), encoding="utf-8")
    shutil.copytree(pair_files, tmp_path / pair_files.name)
    args = ["--model", tiny_adiff_dir, *GEN, "--batch-size", "3"]
    assert run_cli("explain", "--pairs", folder, "--output", tmp_path / "f.jsonl", *args).returncode == 0
    got = read_jsonl(tmp_path / "f.jsonl")
    whole = tmp_path / "csv.jsonl"
    assert run_cli("explain", "--pairs", pair_files / "pairs.csv", "--output", whole, *args).returncode == 0
    assert [r["explanation"] for r in got] == [r["explanation"] for r in read_jsonl(whole)[:3]]
    assert [r["note"] for r in got] == ["take 1", "take 2", "take 3"]


def test_a_dataset_without_two_audio_columns_is_named(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"clip": ["a.wav"], "text": ["x"]}).save_to_disk(tmp_path / "one")
    done = run_cli("explain", "--pairs", tmp_path / "one", "--output", tmp_path / "o.jsonl")
    assert done.returncode == 1 and "one: a dataset of pairs needs the columns audio1 and audio2" in done.stderr


def test_an_unreadable_audio_cell_is_named(tiny_adiff_dir, clips, tmp_path):
    import datasets

    good = {"bytes": clips["tone"].read_bytes(), "path": "tone.wav"}
    table = {"audio1": [good, good], "audio2": [good, {"bytes": b"not audio at all", "path": "broken.wav"}]}
    dataset = datasets.Dataset.from_dict(table).cast_column("audio1", datasets.Audio(decode=False))
    dataset.cast_column("audio2", datasets.Audio(decode=False)).save_to_disk(tmp_path / "bad")
    output = tmp_path / "o.jsonl"
    args = ["--model", tiny_adiff_dir, *GEN, "--batch-size", "1"]
    done = run_cli("explain", "--pairs", tmp_path / "bad", "--output", output, *args)
    assert done.returncode == 1
    assert (
        done.stderr.strip().splitlines()[-1].startswith("adiff-hf explain: error: Could not read audio file broken.wav")
    )
    assert [r["row"] for r in read_jsonl(output)] == [0]  # the pair before it is kept


def test_the_pipeline_takes_a_dataset_or_an_iterable_of_pairs(tiny_adiff_dir, pair_files, pair_dataset):
    import datasets
    from transformers.pipelines.pt_utils import KeyPairDataset

    from adiff_hf.backbones import load_pipeline

    pipe = load_pipeline(str(tiny_adiff_dir))
    rows = read_pair_rows(pair_files / "pairs.csv")[:4]
    pairs = [(str(pair_files / r["audio1"]), str(pair_files / r["audio2"])) for r in rows]
    expected = [out[0]["generated_text"] for out in pipe(pairs, batch_size=2, max_new_tokens=6)]
    dataset = datasets.load_from_disk(str(pair_dataset / "saved"))
    streamed = pipe(dataset, batch_size=2, max_new_tokens=6)
    assert not isinstance(streamed, list)  # an iterator, as transformers' pipelines give for datasets
    assert [out[0]["generated_text"] for out in streamed] == expected
    keyed = datasets.Dataset.from_dict({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]})
    by_key = pipe(KeyPairDataset(keyed, "a", "b"), max_new_tokens=6)  # one pair a call: the same greedy tokens
    assert [out[0]["generated_text"] for out in by_key] == expected
    measured = list(pipe((p for p in pairs), batch_size=2, max_new_tokens=6, return_evidence=True))
    assert [out[0]["generated_text"] for out in measured] == expected
    assert measured[3][0]["evidence"]["differences"] == [] and measured[0][0]["evidence"]["differences"]
    with pytest.raises(ValueError, match=r"inputs\[1\] must be a pair"):
        list(pipe(iter([pairs[0], (pairs[1][0],)]), max_new_tokens=6))


def test_an_undecoded_cell_is_a_clip_for_the_processor_and_the_evidence(tiny_adiff_dir, clips):
    from adiff_hf.evidence import compare_clips
    from adiff_hf.processing_adiff import ADiffProcessor

    processor = ADiffProcessor.from_pretrained(str(tiny_adiff_dir))
    cell = {"bytes": clips["high"].read_bytes(), "path": "high.wav"}
    by_cell = processor(text=["x"], audio=[(cell, str(clips["tone"]))], return_tensors="pt")
    by_path = processor(text=["x"], audio=[(str(clips["high"]), str(clips["tone"]))], return_tensors="pt")
    assert all((by_cell[key] == by_path[key]).all() for key in by_path)
    measured = compare_clips(cell, str(clips["tone"])).to_dict()
    assert measured == compare_clips(str(clips["high"]), str(clips["tone"])).to_dict()
