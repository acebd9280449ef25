from setuptools import find_packages, setup

setup(
    name="adiff-hf",
    version="0.1.0",
    description="ADIFF (explaining audio difference in natural language) for Hugging Face Transformers",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    package_dir={"": "src"},
    packages=find_packages("src"),
    # the evaluate module is a script loaded by path, not an importable package
    package_data={
        "adiff_hf": ["heads/adiff-mini/*", "heads/adiff-mini/lora_adapter/*"],
        "adiff_hf.evaluation.metrics": ["caption_metrics/*.py"],
        "adiff_hf.serving.model_card": ["template.md"],
    },
    entry_points={"console_scripts": ["adiff-hf=adiff_hf.serving.cli:main"]},
    python_requires=">=3.10",
    install_requires=[
        # torch is not pinned here: on CPU-only machines install the local CPU wheel first (see README).
        "torch>=2.4",
        # Only the releases .ci/run proves: it runs the whole suite on the newest this range allows and the core on
        # the oldest. The cap is the minor after the newest tested one; raise it only with a CI run that passes.
        "transformers>=5.23,<5.26",
        "safetensors",
        "huggingface_hub",
        "numpy",
        "soundfile",
        # PyAV (FFmpeg's libraries in the wheel): audio_io's fallback for what libsndfile does not decode, M4A/AAC,
        # MP3, Opus, WebM and the soundtrack of video files
        "av",
        "soxr",
        "pyyaml",
        "tqdm",
        # `adiff-hf explain --plot`, loss curves
        "matplotlib",
        # measured evidence (adiff_hf.evidence, `explain --evidence`): BS.1770 loudness, spectra / pitch / onsets,
        # speech presence (silero-vad's wheel ships its model; only its torch dependency is needed)
        "pyloudnorm>=0.1",
        "librosa>=0.10",
        "silero-vad>=5",
    ],
    extras_require={
        # training: datasets for the data, accelerate for Trainer, matplotlib for the loss curves, peft for --lora_r
        # (older than 0.18, peft fails to import beside transformers 5)
        "train": ["datasets>=3", "accelerate>=1.1", "matplotlib", "peft>=0.18"],
        # evaluation: coco-caption's metrics (pycocoevalcap's jars need Java) as an `evaluate` module
        "eval": ["evaluate>=0.4", "pycocoevalcap>=1.2", "datasets>=3"],
        # importers for the offline backbones (scripts/import_backbones.py): GGUF reading
        "import": ["gguf", "accelerate"],
        # the local difference data recipe (scripts/build_local_difference_data.py): Spotify's audio effects
        "data": ["pedalboard>=0.9"],
        # serving: the Gradio demo (app.py)
        "demo": ["gradio>=5", "matplotlib"],
        "dev": [
            "pytest",
            # .ci/run runs the suite on two workers
            "pytest-xdist",
            "ruff",
            # transformers' common model tests (its sdist's tests/test_modeling_common.py, fetched by
            # scripts/fetch_transformers_tests.py) import it
            "parameterized",
            "datasets>=3",
            "accelerate>=1.1",
            "matplotlib",
            "peft>=0.18",
            "pedalboard>=0.9",
            "evaluate>=0.4",
            "pycocoevalcap>=1.2",
            "gradio>=5",
            "playwright",
            "gguf",
        ],
    },
)
