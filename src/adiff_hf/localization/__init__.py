"""Long recordings: where two recordings differ, found in bounded memory, ranked and explained.

`align_recordings` finds the time offset between them; `localize_differences` scores aligned windows by their band
levels and by the model's own clip embeddings, merges the differing ones into ranked regions and explains the top
ones. Both read files in blocks, never whole.
"""

from .alignment import Alignment, align_recordings
from .localize import (
    MODEL_THRESHOLD,
    SIGNAL_THRESHOLD_DB,
    Localization,
    Region,
    WindowScore,
    format_time,
    localize_differences,
    read_spans,
)

__all__ = [
    "MODEL_THRESHOLD",
    "SIGNAL_THRESHOLD_DB",
    "Alignment",
    "Localization",
    "Region",
    "WindowScore",
    "align_recordings",
    "format_time",
    "localize_differences",
    "read_spans",
]
