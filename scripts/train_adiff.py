"""Train ADIFF with its three-stage recipe through Trainer (same as `adiff-hf train`); every Trainer flag works.

See `python scripts/train_adiff.py --help` and the README.
"""

from adiff_hf.serving.cli import train_main

if __name__ == "__main__":
    train_main()
