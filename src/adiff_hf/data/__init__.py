"""Data for training and evaluating ADIFF: difference CSVs, position captioning, prompt paraphrases, collation."""

from .collator import ADiffDataCollator
from .difference_csv import CSV_COLUMNS, LoadReport, load_difference_csv
from .embedding_cache import ClipEmbeddingCache
from .mixing import EXAMPLE_COLUMNS, build_training_examples, caption_target
from .toy import make_toy_difference_data

__all__ = [
    "ADiffDataCollator",
    "CSV_COLUMNS",
    "ClipEmbeddingCache",
    "EXAMPLE_COLUMNS",
    "LoadReport",
    "build_training_examples",
    "caption_target",
    "load_difference_csv",
    "make_toy_difference_data",
]
