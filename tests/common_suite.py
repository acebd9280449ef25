"""transformers' own common test mixins, for the installed release, from its PyPI sdist (never copied here).

`scripts/fetch_transformers_tests.py` downloads and extracts them (`.ci/run` runs it before the tests). Where they
have not been fetched, the importing test module is skipped, with the reason; under CI (`CI=true`) it fails instead,
so a missing suite never passes as skipped.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import fetch_transformers_tests as fetch  # noqa: E402

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# never a download at collection: `scripts/fetch_transformers_tests.py` (which .ci/run calls) fetches the suite
SUITE = fetch.suite_dir()
if not fetch.is_complete(SUITE):
    missing = f"no complete suite at {SUITE}; run scripts/fetch_transformers_tests.py first"
    if ON_CI:
        raise RuntimeError(f"CI: transformers' common tests are missing ({missing})")
    pytest.skip(f"transformers' common tests unavailable: {missing}", allow_module_level=True)

sys.path.insert(0, str(SUITE))

from transformers_tests.test_configuration_common import ConfigTester  # noqa: E402
from transformers_tests.test_modeling_common import (  # noqa: E402
    ModelTesterMixin,
    floats_tensor,
    ids_tensor,
)

__all__ = ["ConfigTester", "ModelTesterMixin", "SUITE", "floats_tensor", "ids_tensor"]
