"""`python -m adiff_hf ...` is `adiff-hf ...`."""

import sys

from .serving.cli import main

sys.exit(main())
