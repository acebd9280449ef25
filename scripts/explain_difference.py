"""Explain how two recordings differ (same as `adiff-hf explain`).

See `python scripts/explain_difference.py --help` and the README.
"""

from adiff_hf.serving.cli import explain_main

if __name__ == "__main__":
    explain_main()
