"""Data for training and evaluating ADIFF: difference CSVs, position captioning, prompt paraphrases, collation, and
long pairs with one known difference (for localisation).

The names below load on first use, so that a module that needs no `datasets` (the `train` / `eval` extras), such as
`adiff_hf.data.long_pairs`, imports on a base install.
"""

from ..lazy_exports import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = sorted(_EXPORTS)
