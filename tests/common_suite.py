"""transformers' own common test mixins, for the installed release, from its PyPI sdist (never copied here).

`scripts/fetch_transformers_tests.py` downloads and extracts them (`.ci/run` runs it before the tests). Where they
have not been fetched, the importing test module is skipped, with the reason; under CI (`CI=true`) it fails instead,
so a missing suite never passes as skipped.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest


def _import_from(name: str, path: Path, package: bool = False):
    """Imports the module (or package) `name` from `path`: the fetcher is a script, the suite a fetched folder."""
    locations = [str(path.parent)] if package else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fetch = _import_from(
    "fetch_transformers_tests", Path(__file__).resolve().parents[1] / "scripts" / "fetch_transformers_tests.py"
)

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# never a download at collection: `scripts/fetch_transformers_tests.py` (which .ci/run calls) fetches the suite
SUITE = fetch.suite_dir()
if not fetch.is_complete(SUITE):
    missing = f"no complete suite at {SUITE}; run scripts/fetch_transformers_tests.py first"
    if ON_CI:
        raise RuntimeError(f"CI: transformers' common tests are missing ({missing})")
    pytest.skip(f"transformers' common tests unavailable: {missing}", allow_module_level=True)

_import_from(fetch.PACKAGE, SUITE / fetch.PACKAGE / "__init__.py", package=True)

from transformers_tests.test_configuration_common import ConfigTester  # noqa: E402
from transformers_tests.test_modeling_common import (  # noqa: E402
    ModelTesterMixin,
    floats_tensor,
    ids_tensor,
)

__all__ = ["ConfigTester", "ModelTesterMixin", "SUITE", "floats_tensor", "ids_tensor"]
