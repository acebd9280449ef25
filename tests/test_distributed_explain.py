"""`accelerate launch -m adiff_hf explain --pairs ...` across processes and (loopback) machines: the rows are split
between the processes, and the output is the one process's, row for row and token for token, also after a kill."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from adiff_hf.data.jsonl import read_jsonl
from conftest import run_cli

pytest.importorskip("accelerate")

GEN = ["--max-new-tokens", "6"]


@pytest.fixture(scope="module")
def many_pairs(clips, tmp_path_factory):
    """A CSV of 24 pairs of the clips (absolute paths)."""
    folder = tmp_path_factory.mktemp("many")
    names = ["tone", "high", "noise"]
    rows = [(clips[names[i % 3]], clips[names[(i // 3) % 3]]) for i in range(24)]
    (folder / "pairs.csv").write_text("audio1,audio2\n" + "".join(f"{a},{b}\n" for a, b in rows), encoding="utf-8")
    return folder / "pairs.csv"


@pytest.fixture(scope="module")
def one_process(tiny_adiff_dir, many_pairs, tmp_path_factory):
    """The output of one process, in this one."""
    output = tmp_path_factory.mktemp("one") / "out.jsonl"
    done = run_cli("explain", "--pairs", many_pairs, "--output", output, "--model", tiny_adiff_dir, *GEN)
    assert done.returncode == 0, done.stderr
    return output.read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(launch_args, pairs, output, model, batch_size=2) -> subprocess.Popen:
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", *launch_args]
    command += ["-m", "adiff_hf", "explain", "--pairs", str(pairs), "--output", str(output), "--model", str(model)]
    command += [*GEN, "--batch-size", str(batch_size)]
    env = os.environ | {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def _two_nodes(pairs, output, model, batch_size=2) -> list[subprocess.Popen]:
    """Two `accelerate launch` "machines" of one process each, meeting on 127.0.0.1."""
    port = str(_free_port())
    common = ["--num_machines", "2", "--num_processes", "2", "--main_process_ip", "127.0.0.1"]
    common += ["--main_process_port", port]
    return [_launch([*common, "--machine_rank", str(rank)], pairs, output, model, batch_size) for rank in (0, 1)]


def _finish(processes) -> None:
    for process in processes:
        out, _ = process.communicate()
        assert process.returncode == 0, out[-3000:]


def test_two_processes_write_what_one_writes(tiny_adiff_dir, many_pairs, one_process, tmp_path):
    output = tmp_path / "two.jsonl"
    _finish([_launch(["--num_processes", "2"], many_pairs, output, tiny_adiff_dir)])
    assert output.read_text(encoding="utf-8") == one_process
    assert not list(tmp_path.glob("two.jsonl.part*"))  # the per-process files are folded in


def test_two_loopback_machines_killed_and_resumed_write_what_one_writes(
    tiny_adiff_dir, many_pairs, one_process, tmp_path
):
    output = tmp_path / "nodes.jsonl"
    processes = _two_nodes(many_pairs, output, tiny_adiff_dir, batch_size=1)
    # kill both machines as soon as each process has written a row of its own
    parts = [tmp_path / "nodes.jsonl.part0", tmp_path / "nodes.jsonl.part1"]
    deadline = time.monotonic() + 900
    while not all(p.exists() and p.read_text(encoding="utf-8").count("\n") >= 1 for p in parts):
        assert all(p.poll() is None for p in processes), "a machine stopped before writing anything"
        assert time.monotonic() < deadline, "no rows written in 15 minutes"
        time.sleep(0.05)
    for process in processes:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    written = [json.loads(line) for p in parts for line in p.read_text(encoding="utf-8").splitlines() if line]
    assert 2 <= len(written) < 24  # killed part way
    assert not output.exists()  # nothing folded yet
    # the resumed run, on two machines again: only the rows not written are explained, and all are folded in
    _finish(_two_nodes(many_pairs, output, tiny_adiff_dir))
    assert output.read_text(encoding="utf-8") == one_process
    assert not list(tmp_path.glob("nodes.jsonl.part*"))


def test_a_one_process_rerun_folds_in_what_a_killed_sharded_run_left(tiny_adiff_dir, many_pairs, one_process, tmp_path):
    reference = one_process.splitlines(keepends=True)
    output = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.part0").write_text("".join(reference[:3]) + reference[3][:20], encoding="utf-8")
    (tmp_path / "out.jsonl.part1").write_text("".join(reference[12:14]), encoding="utf-8")
    done = run_cli("explain", "--pairs", many_pairs, "--output", output, "--model", tiny_adiff_dir, *GEN)
    assert done.returncode == 0, done.stderr
    assert output.read_text(encoding="utf-8") == one_process
    assert [r["row"] for r in read_jsonl(output)] == list(range(24))
    assert not list(tmp_path.glob("out.jsonl.part*"))
