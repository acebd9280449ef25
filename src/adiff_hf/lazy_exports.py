"""Names a package exports from its submodules, imported on first use (PEP 562), so that importing the package
imports none of them."""

import importlib


def lazy_exports(package: str, exports: dict[str, str]) -> tuple:
    """`(__getattr__, __dir__)` for `package`, whose `exports` map each name to the submodule that defines it."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    def __dir__():
        return sorted(set(vars(importlib.import_module(package))) | set(exports))

    return __getattr__, __dir__
