"""`python -m adiff_hf ...` is `adiff-hf ...`."""

from .cli import main

main()
