"""Measured evidence: the numbers behind an explanation, and a check of its claims against them.

- [`measure_clip`] / [`measure_clips`]: loudness (LUFS), peak, clipping, active duration and silences, spectral
  centroid / roll-off / bandwidth / flatness, f0, onset rate and tempo, an SNR and a decay-time estimate, speech;
- [`compare_clips`]: the differences between two clips above just-noticeable thresholds, as sentences with their
  numbers, and the full table;
- [`check_claims`]: each claim of an explanation `supported`, `contradicted` or `not checkable`;
- [`choose_candidate`]: of several candidate explanations, the one the measurements back best (grounded decoding).

`librosa`, `pyloudnorm` and `silero-vad` are imported when a clip is measured, not with the package.
"""

from .claims import (
    CONTRADICTED,
    NOT_CHECKABLE,
    OUTCOME_MARKS,
    SUPPORTED,
    Claim,
    check_claims,
    evidence_report,
    parse_claims,
)
from .compare import PROPERTIES, Evidence, PropertyState, compare_clips, compare_measurements
from .grounding import Candidate, Grounding, choose_candidate
from .measures import MEASURES, ClipMeasurements, Measure, measure_clip, measure_clips

__all__ = [
    "CONTRADICTED",
    "MEASURES",
    "NOT_CHECKABLE",
    "OUTCOME_MARKS",
    "PROPERTIES",
    "SUPPORTED",
    "Candidate",
    "Claim",
    "ClipMeasurements",
    "Evidence",
    "Grounding",
    "Measure",
    "PropertyState",
    "check_claims",
    "choose_candidate",
    "compare_clips",
    "compare_measurements",
    "evidence_report",
    "measure_clip",
    "measure_clips",
    "parse_claims",
]
