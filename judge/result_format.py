"""The `[RESULT]` reply format of Prometheus 2 (`parser: result` in a template): feedback, then `[RESULT] 4` (absolute
grading, one score) or `[RESULT] A` (relative grading, a verdict only), parsed strictly.

A reply with no `[RESULT]`, with two of them, or with anything but one allowed value after it is unparsed, never
guessed: a judge that quotes an answer holding "[RESULT] 5" cannot be told apart from its own result (answers have
their "[RESULT]" replaced by a look-alike before the judge sees them, see judge/templates.fence_text). The output
format such a template declares is exactly '<feedback> [RESULT] <1-5>' (or '<A|B>'), checked when it loads, so the
grammar of constrained judges and the probabilities method (the score token read after "[RESULT] ") follow it too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from judge.output_format import Choice, FreeText, Literal, format_segments
from judge.parsing import ReplyParseError

RESULT = "result"  # the parser's name in a template (`parser: result`); the other is "lines", the default
RESULT_MARKER = "[RESULT]"
VERDICTS = ("A", "B", "tie")
# Any spelling of the marker counts when they are counted: '[result] 3' beside '[RESULT] 4' is two results.
_ANY_MARKER = re.compile(r"\[\s*result\s*\]", re.IGNORECASE)
_SHOWN = 40  # characters of a bad value quoted in an error


@dataclass(frozen=True)
class ResultReply:
    """A parsed `[RESULT]` reply: the judge's feedback (its reasons) and the value after the marker."""

    feedback: str
    value: str  # one of the output format's options: "1".."5", or "A" / "B"


def format_problem(output_format: str, mode: str, criteria: tuple[str, ...], scale: tuple[int, int]) -> str | None:
    """Why a `parser: result` template cannot be judged by (None when it can): the output format must be
    '<feedback> [RESULT] <choice>' on one line; single mode scores one criterion on the scale's values, pairwise
    mode names A or B (or tie) and scores none."""
    segments = format_segments(output_format)
    shape = [type(s) for s in segments]
    if shape != [FreeText, Literal, Choice] or segments[1].text.strip() != RESULT_MARKER:
        return (f"a 'parser: result' output_format is one line, '<feedback> {RESULT_MARKER} <1-5>' (single) or "
                f"'<feedback> {RESULT_MARKER} <A|B>' (pairwise), got {output_format.strip()[:80]!r}")
    options = segments[2].options
    if mode == "single":
        if len(criteria) != 1:
            return ("a 'parser: result' single template gives one score: name one criterion, e.g. "
                    f"criteria: [overall] (got {list(criteria)})")
        wanted = tuple(str(v) for v in range(scale[0], scale[1] + 1))
        if options != wanted:
            return f"its output_format's choice must be the scale's values <{scale[0]}-{scale[1]}>, got {list(options)}"
    elif mode == "pairwise":
        if criteria:
            return ("a 'parser: result' pairwise template names the better answer and scores no criteria: "
                    f"leave criteria out (got {list(criteria)})")
        if not {"A", "B"} <= set(options) <= set(VERDICTS):
            return f"its output_format's choice must be <A|B> (or <A|B|tie>), got {list(options)}"
    else:
        return f"'parser: result' is for single and pairwise templates, not {mode}"
    return None


def result_options(output_format: str) -> tuple[str, ...]:
    """The values allowed after the marker (a checked format's one choice)."""
    return next(s.options for s in format_segments(output_format) if isinstance(s, Choice))


def parse_result_reply(reply: str, options: tuple[str, ...]) -> ResultReply:
    """The feedback and the value of a reply that holds exactly one `[RESULT] value` and ends with it; ReplyParseError
    (saying what is wrong) otherwise."""
    if not reply or not reply.strip():
        raise ReplyParseError("the judge's reply is empty")
    listed = ", ".join(options)
    markers = list(_ANY_MARKER.finditer(reply))
    if not markers:
        raise ReplyParseError(f"no '{RESULT_MARKER} <{listed}>' in the reply")
    if len(markers) > 1:
        raise ReplyParseError(f"the reply has {len(markers)} {RESULT_MARKER} markers; exactly one is allowed, after "
                              "the feedback")
    marker = markers[0]
    if marker.group(0) != RESULT_MARKER:
        raise ReplyParseError(f"the reply writes {marker.group(0)!r}; the format's marker is {RESULT_MARKER}")
    after = reply[marker.end():].strip()
    if after in options:
        return ResultReply(reply[:marker.start()].strip(), after)
    first = after.split(maxsplit=1)[0] if after else ""
    if first in options:
        raise ReplyParseError(f"the reply goes on after '{RESULT_MARKER} {first}': the result must end the reply")
    if re.fullmatch(r"-?\d+", first) and all(o.isdigit() for o in options):
        raise ReplyParseError(f"result {first[:_SHOWN]} is outside {options[0]}-{options[-1]}")
    shown = repr(after[:_SHOWN]) if after else "nothing"
    raise ReplyParseError(f"{RESULT_MARKER} is followed by {shown}, not one of {listed}")

