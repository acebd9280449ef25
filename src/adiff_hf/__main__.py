"""`python -m adiff_hf ...` is `adiff-hf ...`."""

import sys

from .cli import main

sys.exit(main())
