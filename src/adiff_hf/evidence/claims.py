"""The grounding check: which claims of an explanation do the measurements support, contradict, or leave open?

`parse_claims` finds what a text says about the two clips: louder / quieter, higher / lower pitch, faster / slower,
longer / shorter, noisier, muffled / brighter, thin / fuller, reverberant, echoing, distorted, compressed,
bit-crushed, codec-degraded, clipped, interrupted, reversed, speech, identical; and, so that nothing is silently
dropped, any claim no measurement decides (`UNMEASURED_WORDS`, empty while every change has a measure).
`check_claims` marks each one `supported`, `contradicted` or `not checkable` against an [`Evidence`], with the
measurement that decides. It works on any text: this package's
models, the converted release, a user's own. The words are `adiff_hf.change_words`, which the attribute scorer
reads too.
"""

import re
from dataclasses import dataclass

from ..change_words import PROPERTY_WORDS, SAME_WORDS, UNMEASURED_WORDS
from .compare import PRESENCE, Evidence

SUPPORTED, CONTRADICTED, NOT_CHECKABLE = "supported", "contradicted", "not checkable"

# claims no measurement here decides: parsed so that they are listed, never silently passed
UNCHECKABLE_WORDS = UNMEASURED_WORDS
# where a property's measurement says "no difference", a claim of one is contradicted only for these
RELIABLE = ("loudness", "pitch", "duration", "speed")

_CLIP = re.compile(
    r"\baudio\s*([12])\b|\b(?:clip|recording|sound|track|sample)\s*([12])\b|\b(first|second)\s+(?:audio|clip|"
    r"recording|sound|track|sample|one|file)"
)
_NOT_SUBJECT = re.compile(r"\b(than|to|unlike|from|versus|vs\.?|with|against|over)\s*(the\s+)?$")
_NEGATION = re.compile(r"\b(not|no|never|without|neither|nor)\s+(\w+\s+)?$|n't\s+(\w+\s+)?$")
_LESS = re.compile(r"\bless\s+$")
# (property, direction, words) for every property and unmeasured change
_PATTERNS = [
    (name, direction, pattern) for name, words in PROPERTY_WORDS.items() for direction, pattern in words.items()
]
_PATTERNS += [(name, 1, pattern) for name, pattern in UNCHECKABLE_WORDS.items()]


@dataclass
class Claim:
    """One thing a text says: `property` of `clip` (1, 2, or None when it names none), `direction` (+1: that clip
    has more of it; for presence properties +1 is "has it", -1 "has none"), and after [`check_claims`] the
    `outcome` with the `measurement` that decides it."""

    text: str
    property: str
    clip: int | None
    direction: int
    start: int = 0
    outcome: str | None = None
    measurement: str | None = None

    @property
    def about(self) -> str:
        """Which clip the claim is about, in words: "audio 1", "audio 2", "both" (identical) or "no clip named"."""
        if self.clip is not None:
            return f"audio {self.clip}"
        return "both" if self.property == "identical" else "no clip named"

    @property
    def sign(self) -> int | None:
        """The direction as audio 2 against audio 1 (+1: audio 2 has more), or None without a clip."""
        if self.clip is None:
            return None
        return self.direction if self.clip == 2 else -self.direction

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "property": self.property,
            "clip": self.clip,
            "direction": self.direction,
            "outcome": self.outcome,
            "measurement": self.measurement,
        }


def _sentences(text: str) -> list[tuple[int, str]]:
    """Sentences (and clauses joined by "while" / "whereas" / "but"), with their offsets."""
    pieces, start = [], 0
    for match in re.finditer(r"[.!?;]+\s+|[.!?;]+$|,?\s+\b(while|whereas|but)\b\s+", text):
        pieces.append((start, text[start : match.start()]))
        start = match.end()
    if start < len(text):
        pieces.append((start, text[start:]))
    return [(offset, piece) for offset, piece in pieces if piece.strip()]


def _clip_mentions(sentence: str) -> list[tuple[int, int, bool]]:
    """`(position, clip, is_subject)` for every clip a sentence names; "than audio 1" is not a subject."""
    mentions = []
    for match in _CLIP.finditer(sentence):
        number = match.group(1) or match.group(2)
        clip = int(number) if number else (1 if match.group(3) == "first" else 2)
        subject = not _NOT_SUBJECT.search(sentence[: match.start()])
        mentions.append((match.start(), clip, subject))
    return mentions


def _plain(text: str, ignore=()) -> str:
    """Lower case, with `ignore` (e.g. the sources' names) and quoted words blanked out, offsets kept."""
    text = text.lower()
    for phrase in ignore:
        text = text.replace(phrase.lower(), " " * len(phrase))
    return re.sub(r"'[^']*'", lambda m: " " * len(m.group()), text)


def parse_claims(text: str, ignore=()) -> list[Claim]:
    """The claims `text` makes about audio 1 and audio 2 (see the module's docstring).

    Each sentence's claims belong to the clip it names as subject nearest before the words ("Audio 2 is louder
    than audio 1 and muffled": both about audio 2); a sentence that names none continues the previous subject.
    `ignore` lists phrases to skip, such as the names of the sources ("a 'phone call' sound" claims no codec).
    """
    plain = _plain(text, ignore)
    claims, subject = [], None
    for offset, sentence in _sentences(plain):
        mentions = _clip_mentions(sentence)
        found = []
        for match in re.finditer(SAME_WORDS, sentence):
            found.append(
                Claim(text[offset + match.start() : offset + match.end()], "identical", None, 1, offset + match.start())
            )
        for name, direction, pattern in _PATTERNS:
            for match in re.finditer(pattern, sentence):
                before, said = sentence[: match.start()], direction
                if _NEGATION.search(before[-24:]):
                    if name not in PRESENCE:
                        continue  # "not louder" says nothing measurable
                    said = -1
                elif _LESS.search(before[-8:]):
                    said = -direction
                subjects = [clip for pos, clip, is_subject in mentions if pos < match.start() and is_subject]
                later = [clip for pos, clip, is_subject in mentions if pos > match.start() and is_subject]
                clip = subjects[-1] if subjects else later[0] if later else subject
                found.append(
                    Claim(
                        text[offset + match.start() : offset + match.end()],
                        name,
                        clip,
                        said,
                        offset + match.start(),
                    )
                )
        # one claim per property and clip in a sentence ("noisy, with hiss" is one claim)
        seen = set()
        for claim in sorted(found, key=lambda c: c.start):
            key = (claim.property, claim.clip, claim.direction)
            if key not in seen:
                seen.add(key)
                claims.append(claim)
        subjects = [clip for _, clip, is_subject in mentions if is_subject]
        if subjects:
            subject = subjects[-1]
    return sorted(claims, key=lambda c: c.start)


def _judge(claim: Claim, evidence: Evidence) -> tuple[str, str]:
    if claim.property == "identical":
        findings = evidence.findings
        if not findings:
            return SUPPORTED, "no measured difference above the thresholds"
        return CONTRADICTED, " ".join(state.sentence for state in findings)
    if claim.property in UNCHECKABLE_WORDS:
        return NOT_CHECKABLE, f"no measurement here decides '{claim.property}'"
    if claim.clip is None:
        return NOT_CHECKABLE, "the claim names no clip"
    state = evidence.properties[claim.property]
    if state.sign is None:
        return NOT_CHECKABLE, f"{claim.property} is not measurable: {state.reason}"
    said = state.sentence or _no_difference(state)
    if claim.property in PRESENCE:
        has_it = state.present[claim.clip - 1]
        if has_it == (claim.direction > 0):
            return SUPPORTED, said
        other = state.present[2 - claim.clip]
        return CONTRADICTED, said if state.sentence and other else f"audio {claim.clip}: {_no_difference(state)}"
    if state.sign == claim.sign:
        return SUPPORTED, said
    if state.sign == -claim.sign:
        return CONTRADICTED, said
    if claim.property in RELIABLE:
        return CONTRADICTED, said
    return NOT_CHECKABLE, f"{said} (too small to decide)"


def _no_difference(state) -> str:
    numbers = ", ".join(f"{k} {v}" for k, v in state.numbers.items() if not isinstance(v, list))
    return f"no {state.name} difference above threshold" + (f" ({numbers})" if numbers else "")


def check_claims(text: str, evidence: Evidence, ignore=()) -> list[Claim]:
    """Parse `text`'s claims and mark each `supported`, `contradicted` or `not checkable` against `evidence`
    (from [`compare_clips`]), with the measurement that decides in `claim.measurement`.

    Example:

    ```python
    >>> from adiff_hf.evidence import check_claims, compare_clips
    >>> evidence = compare_clips("take1.wav", "take2.wav")
    >>> for claim in check_claims("Audio 2 is louder and more muffled.", evidence):
    ...     print(claim.text, claim.outcome, claim.measurement)
    ```
    """
    claims = parse_claims(text, ignore)
    for claim in claims:
        claim.outcome, claim.measurement = _judge(claim, evidence)
    return claims


OUTCOME_MARKS = {SUPPORTED: "✓", CONTRADICTED: "✗", NOT_CHECKABLE: "?"}


def evidence_report(evidence: Evidence, claims: list[Claim] | None = None) -> str:
    """Plain text: the measured differences, then (when given) each claim with its outcome and measurement."""
    heading = "Measured differences:" if evidence.scope == "the whole recordings" else f"Measured on {evidence.scope}:"
    lines = [heading] + [f"- {sentence}" for sentence in evidence.sentences]
    if claims is not None:
        lines.append("Claims in the explanation:" if claims else "Claims in the explanation: none that can be parsed.")
        for claim in claims:
            lines.append(
                f'{OUTCOME_MARKS[claim.outcome]} "{claim.text}" ({claim.about}, {claim.property}): {claim.outcome}'
                f" — {claim.measurement}"
            )
    return "\n".join(lines)


__all__ = [
    "CONTRADICTED",
    "OUTCOME_MARKS",
    "NOT_CHECKABLE",
    "PROPERTY_WORDS",
    "SUPPORTED",
    "UNCHECKABLE_WORDS",
    "Claim",
    "check_claims",
    "evidence_report",
    "parse_claims",
]
