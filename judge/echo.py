"""Reasons that only echo: a small judge's "reasons" that repeat the answer it graded or its own prompt (the template,
the reasons request) instead of judging. The app shows them as "the judge wrote no reasons" (runs/views.py)."""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from judge.judging import REASONS_REQUEST, RETRY_MESSAGE
from judge.templates import DEFAULT_TEMPLATES, load_template

# A copied run of this many words is a copy; a reason quoting a phrase of the answer ("'Soak 2 eggs'") stays under it.
RUN = 6
# Reasons whose words lie mostly in copied runs repeat what the judge was shown; a reason that quotes a sentence and
# then judges it keeps most of its words its own.
COPIED_SHARE = 0.6
_WORD = re.compile(r"[^\W_]+")
# An output format's slots ("<1-4>", "<one or two sentences>"): a reply that writes one out copies the format.
_SLOT = re.compile(r"<[^<>\n]{1,80}>")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _grams(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i:i + RUN]) for i in range(len(words) - RUN + 1)}


def _covered(words: list[str], grams: set[tuple[str, ...]]) -> set[int]:
    """Positions of `words` inside a run of RUN words that is also in `grams`."""
    covered: set[int] = set()
    for i in range(len(words) - RUN + 1):
        if tuple(words[i:i + RUN]) in grams:
            covered.update(range(i, i + RUN))
    return covered


def judge_prompt_texts(template: str = "") -> list[str]:
    """What a judge is shown besides the answers: the given template's text (YAML or plain), the shipped templates,
    and the follow-up requests (reasons, a retry)."""
    return [text for text in (template, *_shipped_texts(), REASONS_REQUEST, RETRY_MESSAGE) if text]


@functools.cache
def _shipped_texts() -> tuple[str, ...]:
    return tuple(load_template(name).to_yaml() for name in dict.fromkeys(DEFAULT_TEMPLATES.values()))


def _markup(texts: Iterable[str]) -> set[str]:
    """The template's own marks: delimiter lines without a letter or digit (`<<<`, `>>>`) and the format's slots.
    Answers reach the judge with such delimiters replaced (judge.templates.fence_text), so in a reply they are copied
    from the template."""
    marks: set[str] = set()
    for text in texts:
        marks.update(line.strip() for line in text.splitlines()
                     if len(line.strip()) >= 3 and not re.search(r"[^\W_]", line))
        marks.update(slot.lower() for slot in _SLOT.findall(text))
    return marks


def echoed_reasons(reasons: str, answers: Sequence[str], prompt: str = "", template: str = "") -> bool:
    """True when `reasons` repeat what the judge was shown instead of judging it: the template's marks (a `<<<`
    delimiter, a `<one or two sentences>` slot), or words mostly in runs of RUN copied from an answer or the judge's
    prompt. The instruction's own words never count as copied: reasons may restate what was asked."""
    if not reasons or not reasons.strip():
        return False
    shown = judge_prompt_texts(template)
    lowered = reasons.lower()
    if any(mark.lower() in lowered for mark in _markup(shown)):
        return True
    words = _words(reasons)
    if len(words) < RUN:
        return False
    copied = _covered(words, set().union(*(_grams(text) for text in (*answers, *shown))))
    asked = _covered(words, _grams(prompt))
    own = len(words) - len(asked)
    if own == 0:  # the instruction written out again, nothing else
        return True
    return len(copied - asked) / own >= COPIED_SHARE
