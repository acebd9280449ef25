"""Data for training and evaluating ADIFF: difference CSVs, position captioning, prompt paraphrases, collation, and
long pairs with one known difference (for localisation).

The names below load on first use, so that a module that needs no `datasets` (the `train` / `eval` extras), such as
`adiff_hf.data.long_pairs`, imports on a base install.
"""

import importlib

_EXPORTS = {
    "ADiffDataCollator": "collator",
    "CSV_COLUMNS": "difference_csv",
    "ClipEmbeddingCache": "embedding_cache",
    "EXAMPLE_COLUMNS": "mixing",
    "LoadReport": "difference_csv",
    "build_training_examples": "mixing",
    "caption_target": "mixing",
    "load_difference_csv": "difference_csv",
    "make_long_pair": "long_pairs",
    "make_toy_difference_data": "toy",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = sorted(_EXPORTS)
