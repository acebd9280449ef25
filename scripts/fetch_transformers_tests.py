"""Fetch transformers' own common model tests for the installed release, to run them against ADIFF.

The test mixins (`ModelTesterMixin`, `ConfigTester`) are not part of the transformers wheel, and they are not copied
into this repository: they ship in transformers' source distribution on PyPI. This downloads that sdist with pip
(for the release installed beside this Python, so the tests match the library they test), extracts only the modules
ADIFF's tests use into an importable package, and writes placeholders for the modules they import that the sdist
does not ship.

    python scripts/fetch_transformers_tests.py            # -> .transformers-tests/<version>/transformers_tests/

The cache root is `$ADIFF_TRANSFORMERS_TESTS`, else `.transformers-tests/` in the repository (ignored by git). A
complete package is reused; nothing is downloaded again. `tests/common_suite.py` imports it.
"""

import argparse
import ast
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV_VAR = "ADIFF_TRANSFORMERS_TESTS"
PACKAGE = "transformers_tests"
# the sdist's test modules ADIFF's tests import, from its top-level tests/ folder
MODULES = ("test_modeling_common.py", "test_configuration_common.py")
# Modules that those import relatively but the sdist does not ship (transformers' tests/ subfolders are left out of
# it). Each placeholder defines the names imported, so the mixins import; what they would have tested is not run.
PLACEHOLDERS = {
    "exporters/test_export.py": '''"""Placeholder: transformers' sdist does not ship tests/exporters/test_export.py.

ModelTesterMixin derives from this empty ExportTesterMixin, so the torch.export tests it adds are not run.
"""


class ExportTesterMixin:
    pass
''',
    "generation/test_utils.py": '''"""Placeholder: transformers' sdist does not ship tests/generation/test_utils.py.

This empty GenerationTesterMixin adds no test: transformers' generate() tests are not run (ADIFF's own tests cover
generation: tests/test_modeling.py, tests/test_transformers_compat.py).
"""


class GenerationTesterMixin:
    pass
''',
    "utils/test_configuration_utils.py": '''"""Placeholder: transformers' sdist does not ship this module.

ConfigTester.check_config_arguments_init reads these common kwargs only for configs without sub-configs; empty, it
checks nothing (ADiffConfig has sub-configs, so it skips that check anyway).
"""

config_common_kwargs = {}
''',
}
COMPLETE = ".complete"


class FetchError(RuntimeError):
    """The sdist could not be downloaded or does not hold the expected test modules."""


def installed_version() -> str:
    return importlib.metadata.version("transformers")


def cache_root() -> Path:
    return Path(os.environ.get(ENV_VAR) or REPO / ".transformers-tests")


def suite_dir(version: str | None = None, root: Path | None = None) -> Path:
    """The folder to put on `sys.path` to import `transformers_tests` for `version` (default: the installed one)."""
    return (root or cache_root()) / (version or installed_version())


def is_complete(directory: Path) -> bool:
    return (directory / PACKAGE / COMPLETE).is_file()


def _relative_imports(source: str) -> set[str]:
    """Modules a test module imports relatively (`from .generation.test_utils import X` -> generation/test_utils.py)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.replace(".", "/") + ".py")
    return found


def _download(version: str, into: Path, timeout: int, retries: int) -> Path:
    command = [
        *(sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet"),
        *("--timeout", str(timeout), "--retries", str(retries), "-d", str(into), f"transformers=={version}"),
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    archive = into / f"transformers-{version}.tar.gz"
    if result.returncode or not archive.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchError(f"pip could not download the transformers {version} sdist: {last}")
    return archive


def _extract(archive: Path, version: str, package: Path) -> None:
    prefix = f"transformers-{version}/tests/"
    package.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for name in MODULES:
            try:
                member = tar.extractfile(prefix + name)
            except KeyError:
                member = None
            if member is None:
                raise FetchError(f"the transformers {version} sdist has no tests/{name}")
            (package / name).write_bytes(member.read())
        shipped = {n[len(prefix) :] for n in tar.getnames() if n.startswith(prefix)}
    needed = set().union(*(_relative_imports((package / name).read_text(encoding="utf-8")) for name in MODULES))
    unknown = sorted(needed - shipped - PLACEHOLDERS.keys())
    if unknown:
        raise FetchError(
            f"the transformers {version} test modules import {', '.join(unknown)}, which the sdist does not ship "
            f"and {Path(__file__).name} has no placeholder for"
        )
    for relative in sorted(needed - shipped):
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = path.parent
        while folder != package:  # each subfolder a package
            (folder / "__init__.py").touch()
            folder = folder.parent
        path.write_text(PLACEHOLDERS[relative], encoding="utf-8")
    (package / "__init__.py").write_text(
        f'"""transformers {version}\'s common test modules, from its PyPI sdist by scripts/{Path(__file__).name}."""\n',
        encoding="utf-8",
    )
    (package / COMPLETE).write_text(f"{version}\n", encoding="utf-8")


def ensure_suite(version: str | None = None, root: Path | None = None, timeout: int = 30, retries: int = 2) -> Path:
    """The folder holding a complete `transformers_tests` package for `version`, downloaded if it is not there yet.

    Raises `FetchError` when the sdist cannot be had (offline, a release not on PyPI such as a dev build).
    """
    version = version or installed_version()
    target = suite_dir(version, root)
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{version}-") as scratch_dir:
        scratch = Path(scratch_dir)
        archive = _download(version, scratch / "sdist", timeout, retries)
        staged = scratch / version
        _extract(archive, version, staged / PACKAGE)
        if target.exists():  # an incomplete earlier attempt
            shutil.rmtree(target)
        staged.rename(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", help="transformers release (default: the one installed beside this Python)")
    parser.add_argument("--root", type=Path, help=f"cache root (default: ${ENV_VAR} or .transformers-tests/)")
    args = parser.parse_args(argv)
    try:
        directory = ensure_suite(args.version, args.root)
    except FetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(directory / PACKAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
