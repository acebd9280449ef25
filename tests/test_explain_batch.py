"""`adiff-hf explain --pairs FILE --output OUT.jsonl`: every pair of a CSV or JSONL, in input order, the same
explanation as the one-pair path, resumable after a kill."""

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
        (["a.wav", "b.wav", "--output", "o.jsonl"], "--output goes with --pairs"),
        ([], "give two audio files"),
    ],
)
def test_conflicting_options_are_refused(args, message):
    done = run_cli("explain", *args)
    assert done.returncode == 2 and message in done.stderr
