"""Strict parsing of judge replies: a defined line format, the last match wins, and failure is explicit.

Last-match-wins matters because judges often quote the answer they grade before grading it: an answer that
contains "Relevance: 4" or "[[A]]" must not be able to set its own score.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from basics import UserFacingError

LABEL_DECORATION = r"[ \t>*_#`-]*"  # markdown bullets, bold and headings that judges add around labels
_NUMBER = r"(-?\d+(?:\.\d+)?)"
_VERDICT = re.compile(r"\[\[\s*(A|B|tie)\s*\]\]", re.IGNORECASE)
_AFTER_COLON = r"[ \t*_]*"  # bold markers may close after the colon; never a '-' (it would eat a minus sign)
# What lies between [[ and ]], brackets excluded so that each character is scanned from one start at most; the
# label is that text stripped (see parse_label_reply). The equivalent '\[\[\s*([^\[\]\n]+?)\s*\]\]' backtracks
# cubically on '[[' followed by a long run of spaces (over a minute for 5,000).
_BRACKETED = re.compile(r"\[\[([^\[\]]*)\]\]")
_REASONS = re.compile(
    rf"(?im)^{LABEL_DECORATION}(?:reasons?|explanation|rationale){LABEL_DECORATION}[:=]{_AFTER_COLON}(.*)$")


class ReplyParseError(UserFacingError):
    """The judge's reply does not follow the template's output format; the message says what is wrong."""


@dataclass
class SingleScores:
    scores: dict[str, int]
    reasons: str = ""

    @property
    def total(self) -> int:
        return sum(self.scores.values())


@dataclass
class PairwiseScores:
    verdict: str  # "A", "B" or "tie", in the order the judge saw the answers
    scores_a: dict[str, int] = field(default_factory=dict)
    scores_b: dict[str, int] = field(default_factory=dict)
    reasons: str = ""


def _label(criterion: str) -> str:
    return rf"(?im)^{LABEL_DECORATION}{re.escape(criterion)}{LABEL_DECORATION}[:=]{_AFTER_COLON}"


def _pairwise_line(criterion: str) -> str:
    # One run of whitespace on each side of the optional separator: '\s*[,;/|]?\s*' let the two runs share a long
    # run of spaces every way there is, which is quadratic in its length when no B follows (50 s for 100,000).
    return _label(criterion) + rf"A\s*[:=]\s*{_NUMBER}\s*(?:[,;/|]\s*)?B\s*[:=]\s*{_NUMBER}"


def _checked_score(raw: str, criterion: str, scale: tuple[int, int], where: str = "") -> int:
    low, high = scale
    if not re.fullmatch(r"-?\d+", raw):
        raise ReplyParseError(f"{criterion}{where} score {raw!r} is not a whole number from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise ReplyParseError(f"{criterion}{where} score {value} is outside {low}-{high}")
    return value


def _last_reasons(reply: str, labels: tuple[str, ...]) -> str:
    matches = list(_REASONS.finditer(reply))
    if not matches:
        return ""
    # Reasons may run over several lines: take what follows the last label, up to the next labelled line.
    stop = re.compile(rf"(?i)^{LABEL_DECORATION}(?:{'|'.join(map(re.escape, labels))}){LABEL_DECORATION}[:=]")
    lines = []
    for line in reply[matches[-1].start(1):].splitlines():
        if lines and stop.match(line):
            break
        lines.append(line)
    return "\n".join(lines).strip()[:2000]


def parse_single_reply(reply: str, criteria: tuple[str, ...], scale: tuple[int, int]) -> SingleScores:
    """Scores per criterion from a reply like 'Relevance: 3' lines; raise ReplyParseError when any is missing."""
    if not reply or not reply.strip():
        raise ReplyParseError("the judge's reply is empty")
    scores = {}
    for criterion in criteria:
        matches = re.findall(_label(criterion) + _NUMBER, reply)
        if not matches:
            raise ReplyParseError(f"no '{criterion.capitalize()}: <{scale[0]}-{scale[1]}>' line in the reply")
        scores[criterion] = _checked_score(matches[-1], criterion, scale)
    return SingleScores(scores=scores, reasons=_last_reasons(reply, criteria))


def parse_pairwise_reply(reply: str, criteria: tuple[str, ...], scale: tuple[int, int]) -> PairwiseScores:
    """Verdict [[A]]/[[B]]/[[tie]] and 'Criterion: A=x B=y' lines; raise ReplyParseError when any is missing."""
    if not reply or not reply.strip():
        raise ReplyParseError("the judge's reply is empty")
    verdicts = _VERDICT.findall(reply)
    if not verdicts:
        raise ReplyParseError("no verdict [[A]], [[B]] or [[tie]] in the reply")
    last = verdicts[-1]
    verdict = "tie" if last.lower() == "tie" else last.upper()
    scores_a, scores_b = {}, {}
    for criterion in criteria:
        matches = re.findall(_pairwise_line(criterion), reply)
        if not matches:
            raise ReplyParseError(
                f"no '{criterion.capitalize()}: A=<{scale[0]}-{scale[1]}> B=<{scale[0]}-{scale[1]}>' line in the reply"
            )
        raw_a, raw_b = matches[-1]
        scores_a[criterion] = _checked_score(raw_a, criterion, scale, " (A)")
        scores_b[criterion] = _checked_score(raw_b, criterion, scale, " (B)")
    return PairwiseScores(verdict=verdict, scores_a=scores_a, scores_b=scores_b,
                          reasons=_last_reasons(reply, (*criteria, "verdict")))


def parse_label_reply(reply: str, labels: tuple[str, ...]) -> str:
    """The last [[label]] in the reply that is one of `labels`; ReplyParseError when there is none.

    The label may have spaces (newlines too) around it inside the brackets, but no line break within it.
    """
    found = [label for label in (inner.strip().lower() for inner in _BRACKETED.findall(reply or ""))
             if label in labels and "\n" not in label]
    if not found:
        raise ReplyParseError(f"no label {' or '.join(f'[[{x}]]' for x in labels)} in the reply")
    return found[-1]
