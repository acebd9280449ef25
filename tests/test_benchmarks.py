"""The benchmark suite runs end to end from its one command (tiny configuration, so it takes seconds)."""

import json
import subprocess
import sys

from conftest import REPO


def test_benchmark_runner_end_to_end(tmp_path):
    output = tmp_path / "benchmarks.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/run_benchmarks.py", "--tiny", "--output", str(output)],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(output.read_text())
    for row in results["decoding"]:
        assert row["identical_tokens"] is True
        assert row["generate_s"] > 0 and row["release_loop_s_scaled"] > 0
        ratio = row["release_loop_s_scaled"] / row["generate_s"]  # of the rounded times
        assert abs(row["speedup_vs_release"] - ratio) <= 0.05 * ratio + 0.01
    floor = results["floor"]
    assert floor["copy_bandwidth_gb_s"] > 0 and floor["weight_bytes"] > 1_000_000
    assert set(floor["steps"]) == {"1", "16"} and all(
        s["times_floor"] > 0 and s["times_matvec"] > 0 for s in floor["steps"].values()
    )
    front = results["frontend"]
    assert front["features_identical"] is True and front["clips"] == 4
    assert abs(sum(front["share"].values()) - 1) < 0.01
    assert results["memory"]["bf16"]["logits_finite"] and results["memory"]["fp32"]["logits_finite"]
    assert [row["stage"] for row in results["training"]] == [1, 2, 3]
    assert "| 4 pairs x 40 tokens |" in done.stdout and "x floor" in done.stdout
