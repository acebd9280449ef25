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
    python_requires=">=3.10",
    install_requires=[
        # torch is not pinned here: on CPU-only machines install the local CPU wheel first (see README).
        "torch>=2.4",
        "transformers>=5.23,<6",
        "safetensors",
        "huggingface_hub",
        "numpy",
        "soundfile",
        "soxr",
    ],
    extras_require={
        # training: datasets for the data, accelerate for Trainer, matplotlib for the loss curves
        "train": ["datasets>=3", "accelerate>=1.1", "matplotlib"],
        "dev": ["pytest", "ruff", "datasets>=3", "accelerate>=1.1", "matplotlib"],
    },
)
