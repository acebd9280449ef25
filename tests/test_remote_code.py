"""A saved directory loads through the Auto classes in a fresh process where adiff_hf is not importable: on this
transformers release and, when `ADIFF_OTHER_PYTHON` names the interpreter of an environment with another release
(`.ci/run` sets it for its newest and oldest environments), on that release too."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO

SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.modules["adiff_hf"] = None  # make `import adiff_hf` fail: only the saved code may be used
    import numpy as np, transformers
    directory, fixture = sys.argv[1], sys.argv[2]
    config = transformers.AutoConfig.from_pretrained(directory, trust_remote_code=True)
    model = transformers.AutoModelForMultimodalLM.from_pretrained(directory, trust_remote_code=True).eval()
    base = transformers.AutoModel.from_pretrained(directory, trust_remote_code=True)
    processor = transformers.AutoProcessor.from_pretrained(directory, trust_remote_code=True)
    ref = json.load(open(fixture + "/reference_outputs.json"))
    waves = np.load(fixture + "/waveforms_32k.npy")
    a, b = ref["pairs"][0]
    inputs = processor(text=ref["prompt_texts"][:1], audio=[(waves[a], waves[b])], sampling_rate=32000)
    ids = model.generate(**inputs, max_new_tokens=len(ref["examples"][0]["greedy_ids"]))
    print(json.dumps({
        "classes": [type(x).__name__ for x in (config, model, base, processor, processor.feature_extractor)],
        "module": type(model).__module__,
        "greedy": ids[0].tolist(),
        "expected": ref["examples"][0]["greedy_ids"],
        "transformers": transformers.__version__,
    }))
    """
)


# this environment's interpreter, and the other release's when .ci/run gives one
INTERPRETERS = {"this-release": sys.executable} | (
    {"other-release": os.environ["ADIFF_OTHER_PYTHON"]} if os.environ.get("ADIFF_OTHER_PYTHON") else {}
)


@pytest.mark.parametrize("python", INTERPRETERS.values(), ids=INTERPRETERS.keys())
def test_saved_directory_loads_with_trust_remote_code_only(model_and_processor, variant, tmp_path, python):
    model, processor = model_and_processor
    saved = tmp_path / "adiff-saved"
    model.save_pretrained(saved)
    processor.save_pretrained(saved)
    config = json.loads((saved / "config.json").read_text())
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForMultimodalLM", "AutoProcessor"}
    assert (saved / "model.safetensors").exists()
    for code in (
        "configuration_adiff.py",
        "modeling_adiff.py",
        "processing_adiff.py",
        "feature_extraction_adiff.py",
        "audio_io.py",
    ):
        assert (saved / code).exists(), code

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"), "PYTHONPATH": ""}
    result = subprocess.run(
        [python, "-c", SCRIPT, str(saved), str(variant.dir)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["classes"] == [
        "ADiffConfig",
        "ADiffForConditionalGeneration",
        "ADiffModel",
        "ADiffProcessor",
        "ADiffFeatureExtractor",
    ]
    assert report["module"].startswith("transformers_modules.")
    assert report["greedy"] == report["expected"]
    assert str(REPO) not in report["module"]
    if python != sys.executable:  # saved on this release, loaded on the other one
        import transformers

        assert report["transformers"] != transformers.__version__
