"""Convert the original ADIFF release checkpoint into a Hugging Face model directory (same as `adiff-hf convert`).

See `python scripts/convert_adiff_original_checkpoint.py --help` and the README.
"""

from adiff_hf.serving.cli import convert_main

if __name__ == "__main__":
    convert_main()
