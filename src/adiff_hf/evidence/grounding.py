"""Grounded decoding's choice: of several candidate explanations of one pair, the one the measurements back best.

[`choose_candidate`] checks every candidate's claims against one [`Evidence`] (the pair is measured once) and
chooses by, in turn: the fewest contradicted claims, the most supported claims, the model's own order (the beam
rank, or the sequence score where one is given). It needs no model: the pipeline's `grounded=N` and
`adiff-hf explain --grounded N` call it on the N candidates they generate.
"""

import math
from dataclasses import dataclass, field

from .claims import CONTRADICTED, SUPPORTED, Claim, check_claims
from .compare import Evidence


@dataclass
class Candidate:
    """One candidate explanation: its `text`, its `rank` in the model's order (1: the model's best), its
    sequence `score` where decoding gave one, and its checked `claims`."""

    text: str
    rank: int
    score: float | None = None
    claims: list[Claim] = field(default_factory=list)

    @property
    def contradicted(self) -> int:
        return sum(claim.outcome == CONTRADICTED for claim in self.claims)

    @property
    def supported(self) -> int:
        return sum(claim.outcome == SUPPORTED for claim in self.claims)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "contradicted": self.contradicted,
            "supported": self.supported,
            "rank": self.rank,
            "score": self.score,
        }


@dataclass
class Grounding:
    """The outcome of [`choose_candidate`]: the pair's `evidence`, the `candidates` in the model's order (rank 1
    first) and the `chosen` one."""

    evidence: Evidence
    candidates: list[Candidate]
    chosen: Candidate

    @property
    def text(self) -> str:
        return self.chosen.text

    @property
    def claims(self) -> list[Claim]:
        return self.chosen.claims

    def summary(self) -> str:
        """One line: "Grounded: chose candidate 2 of 4 (0 contradicted, 1 supported claim)"."""
        supported = self.chosen.supported
        return (
            f"Grounded: chose candidate {self.chosen.rank} of {len(self.candidates)} ({self.chosen.contradicted} "
            f"contradicted, {supported} supported claim{'' if supported == 1 else 's'})"
        )

    def to_dict(self) -> dict:
        """The pipeline's result for the pair: `generated_text` (the chosen text), `evidence`, `claims` (the chosen
        text's), `candidates` (each one's `text`, `contradicted`, `supported`, `rank`, `score`) and `chosen` (its
        rank)."""
        return {
            "generated_text": self.chosen.text,
            "evidence": self.evidence.to_dict(),
            "claims": [claim.to_dict() for claim in self.chosen.claims],
            "candidates": [candidate.to_dict() for candidate in self.candidates],
            "chosen": self.chosen.rank,
        }


def _model_order(count: int, scores) -> list[int]:
    """The candidates' indices, the model's best first: by score (higher first, ties and missing scores keep the
    given order), or as given."""
    if scores is None:
        return list(range(count))
    scores = [float(score) for score in scores]
    if len(scores) != count:
        raise ValueError(f"choose_candidate: {count} candidates but {len(scores)} scores.")
    key = [score if math.isfinite(score) else -math.inf for score in scores]
    return sorted(range(count), key=lambda i: -key[i])


def choose_candidate(texts, evidence: Evidence, scores=None, ignore=()) -> Grounding:
    """Check each of `texts` against `evidence` and choose the best grounded one.

    Args:
        texts: the candidate explanations of one pair, in the order decoding returned them (beam search returns
            its best first).
        evidence: the pair's measured differences (from `compare_clips`), measured once for all candidates.
        scores: optional sequence scores, one per text (beam search's `sequences_scores`: higher is better); they
            set the model's order instead of the given one.
        ignore: phrases the claim parser skips (see `check_claims`).

    Returns:
        [`Grounding`]: the candidates in the model's order with their checked claims, and the chosen one: the
        fewest contradicted claims, then the most supported, then the model's order.

    Example:

    ```python
    >>> from adiff_hf.evidence import choose_candidate, compare_clips
    >>> evidence = compare_clips("take1.wav", "take2.wav")
    >>> choose_candidate(["Audio 2 is louder.", "Audio 2 is quieter."], evidence).text
    'Audio 2 is quieter.'
    ```
    """
    texts = list(texts)
    if not texts:
        raise ValueError("choose_candidate needs at least one candidate text.")
    order = _model_order(len(texts), scores)
    candidates = [
        Candidate(
            texts[index],
            rank,
            None if scores is None else float(scores[index]),
            check_claims(texts[index], evidence, ignore),
        )
        for rank, index in enumerate(order, start=1)
    ]
    chosen = min(candidates, key=lambda c: (c.contradicted, -c.supported, c.rank))
    return Grounding(evidence, candidates, chosen)


__all__ = ["Candidate", "Grounding", "choose_candidate"]
