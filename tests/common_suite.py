"""transformers' own common test mixins, for the installed release, from its PyPI sdist (never copied here).

`scripts/fetch_transformers_tests.py` downloads and extracts them (CI runs it before the tests); importing this
module fetches them if they are not cached yet. Where they cannot be had (offline, a dev build of transformers), the
importing test module is skipped, with the reason; under CI (`CI=true`) it fails instead, so a missing suite never
passes as skipped.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import fetch_transformers_tests as fetch  # noqa: E402

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

try:
    # CI fetched it already: never download there, so that what CI runs is what its fetch step reported
    SUITE = fetch.suite_dir() if ON_CI else fetch.ensure_suite(timeout=15, retries=1)
    if not fetch.is_complete(SUITE):
        raise fetch.FetchError(f"no complete suite at {SUITE}; run scripts/fetch_transformers_tests.py first")
except fetch.FetchError as error:
    if ON_CI:
        raise RuntimeError(f"CI: transformers' common tests are missing ({error})") from error
    pytest.skip(f"transformers' common tests unavailable: {error}", allow_module_level=True)

sys.path.insert(0, str(SUITE))

from transformers_tests.test_configuration_common import ConfigTester  # noqa: E402
from transformers_tests.test_modeling_common import (  # noqa: E402
    ModelTesterMixin,
    floats_tensor,
    ids_tensor,
)

__all__ = ["ConfigTester", "ModelTesterMixin", "SUITE", "floats_tensor", "ids_tensor"]
