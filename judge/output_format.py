"""A template's output_format as a grammar, so a judge on a grammar-capable backend can only reply in format.

The judge still chooses every score and word itself; the grammar only rules out replies the parser would
have to reject. This is what makes a tiny local judge usable; free-text judges go through parse and retry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"<\s*(\d+)\s*-\s*(\d+)\s*>")
_FREE = re.compile(r"<[^<>]+>")
_BRACKET_CHOICES = re.compile(r"\[\[[^\]]+\]\](?:\s+or\s+\[\[[^\]]+\]\])+")


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
    """Split an output format like 'Relevance: <1-4>' into literals, choices and free-text slots."""
    segments: list[Segment] = []
    lines = [line.rstrip() for line in output_format.strip().splitlines() if line.strip()]
    for number, line in enumerate(lines):
        if number:
            segments.append(Literal("\n"))
        position = 0
        pattern = re.compile(f"{_RANGE.pattern}|{_BRACKET_CHOICES.pattern}|{_FREE.pattern}")
        for match in pattern.finditer(line):
            if match.start() > position:
                segments.append(Literal(line[position:match.start()]))
            token = match.group(0)
            if match.group(1) is not None:
                low, high = int(match.group(1)), int(match.group(2))
                segments.append(Choice(tuple(str(v) for v in range(low, high + 1))))
            elif token.startswith("[["):
                segments.append(Choice(tuple(re.findall(r"\[\[[^\]]+\]\]", token))))
            else:
                segments.append(FreeText())
            position = match.end()
        if position < len(line):
            segments.append(Literal(line[position:]))
    return segments


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


def output_grammar(output_format: str) -> str:
    return to_gbnf(format_segments(output_format))
