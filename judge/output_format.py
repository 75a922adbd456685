"""A template's output_format as a grammar, so a judge on a grammar-capable backend can only reply in format.

The judge still chooses every score and word itself; the grammar only rules out replies the parser would
have to reject. This is what makes a tiny local judge usable; free-text judges go through parse and retry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from basics import UserFacingError

_RANGE = re.compile(r"<\s*(\d+)\s*-\s*(\d+)\s*>")
# A choice of words written bare, e.g. '<A|B>' for Prometheus' "[RESULT] A": no spaces, so that '<one or two
# sentences>' stays free text and the pattern stays linear on hostile input.
_WORDS = re.compile(r"<([\w-]+(?:\|[\w-]+)+)>")
_FREE = re.compile(r"<[^<>]+>")
# An option holds no bracket at all: with '[^\]]+' a long run of '[' made every one of them a start that scanned to
# the end of the line (quadratic), and the parsers (judge/parsing.py) never read a label with a bracket in it.
_OPTION = r"\[\[[^\[\]]+\]\]"
_BRACKET_CHOICES = re.compile(rf"{_OPTION}(?:\s+or\s+{_OPTION})+")
_SEGMENT = re.compile(f"{_RANGE.pattern}|{_WORDS.pattern}|{_BRACKET_CHOICES.pattern}|{_FREE.pattern}")
# A score range becomes one grammar option per value: '<1-99999999999>' would allocate without bound.
MAX_RANGE_VALUES = 1000


class OutputFormatError(UserFacingError):
    """An output format cannot be turned into a grammar (a score range too wide); the message names the fix."""


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]


@dataclass(frozen=True)
class FreeText:
    """Anything on one line."""


Segment = Literal | Choice | FreeText


def format_segments(output_format: str) -> list[Segment]:
    """Split an output format like 'Relevance: <1-4>' into literals, choices and free-text slots.

    Choices: a score range '<1-4>', bracketed options '[[A]] or [[B]]', or bare words '<A|B>'; any other '<...>'
    is one line of free text."""
    segments: list[Segment] = []
    lines = [line.rstrip() for line in output_format.strip().splitlines() if line.strip()]
    for number, line in enumerate(lines):
        if number:
            segments.append(Literal("\n"))
        position = 0
        for match in _SEGMENT.finditer(line):
            if match.start() > position:
                segments.append(Literal(line[position:match.start()]))
            token = match.group(0)
            if match.group(1) is not None:
                segments.append(Choice(_range_options(match.group(1), match.group(2))))
            elif match.group(3) is not None:
                segments.append(Choice(_word_options(match.group(3))))
            elif token.startswith("[["):
                segments.append(Choice(tuple(re.findall(_OPTION, token))))
            else:
                segments.append(FreeText())
            position = match.end()
        if position < len(line):
            segments.append(Literal(line[position:]))
    return segments


def _range_options(low_text: str, high_text: str) -> tuple[str, ...]:
    # Digit strings this long are far out of bounds anyway, and int() of a huge one is slow or refused.
    low, high = (int(text) if len(text) <= 9 else None for text in (low_text, high_text))
    if low is None or high is None or not 0 < high - low + 1 <= MAX_RANGE_VALUES:
        shown = f"<{low_text[:12]}-{high_text[:12]}>"
        raise OutputFormatError(
            f"output_format range {shown} cannot be a score slot: write it low-high with low <= high and at "
            f"most {MAX_RANGE_VALUES} values, e.g. <1-10>")
    return tuple(str(v) for v in range(low, high + 1))


def _word_options(text: str) -> tuple[str, ...]:
    options = tuple(text.split("|"))
    if len(set(options)) != len(options):
        raise OutputFormatError(f"output_format choice <{text[:60]}> names an option twice: write each once, "
                                "e.g. <A|B>")
    return options


def _gbnf_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_gbnf(segments: list[Segment]) -> str:
    """A llama.cpp GBNF grammar accepting exactly the replies that follow the segments."""
    parts = []
    for segment in segments:
        if isinstance(segment, Literal):
            parts.append(_gbnf_string(segment.text))
        elif isinstance(segment, Choice):
            parts.append("(" + " | ".join(_gbnf_string(o) for o in segment.options) + ")")
        else:
            parts.append("[^\\n]+")
    return "root ::= " + " ".join(parts) + "\n"


def scored_segments(segments: list[Segment]) -> list[Segment]:
    """The segments to the end of the last choice's line: the lines after it (reasons) are left out, so a judge held
    to them stops once it has chosen (feedback written before the choices stays)."""
    last = max((i for i, s in enumerate(segments) if isinstance(s, Choice)), default=-1)
    cut = next((i for i, s in enumerate(segments) if i > last and (isinstance(s, FreeText) or s == Literal("\n"))),
               len(segments))
    return segments[:cut]


def output_grammar(output_format: str, scores_only: bool = False) -> str:
    """The grammar of the whole format, or with `scores_only` of its scored part (scored_segments)."""
    segments = format_segments(output_format)
    return to_gbnf(scored_segments(segments) if scores_only else segments)
