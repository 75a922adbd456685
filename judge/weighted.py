"""Probability-weighted judging: read the judge's probability of every allowed value instead of generating a reply.

The template's output_format is walked as the judge would write it: literal text is written, and at each choice
(a score range, a verdict, a label) the backend's token probabilities of the options are read; the most probable
option is written before the next choice. A criterion's score is then the expected value over its scale, and the
probability mass on the allowed options is kept as the judge's confidence (G-Eval; AlpacaEval's logprob judges).
Free-text slots (reasons) are not read: reasons are generated afterwards, on request, with the scores fixed.

A format that opens with free text before its choices (Prometheus 2's '<feedback> [RESULT] <1-5>') has the judge write
that text first, greedily and held to the format where its backend takes a grammar: the score is then read after
the judge's own feedback, as the model was trained to give it. A reply that holds the marker after the free text
twice is unread (the record is unparsed); a feedback cut off by the token limit before the marker has the marker
written after it, as every literal is, and says so (`feedback_complete`).

Served models cannot be teacher-forced through the chat protocol; `read_reply_format` reads the same choices from
the alternatives a server returns with each token of the judge's greedy reply (held to the format by a grammar
where the server takes one). Options outside the server's top alternatives count as probability 0.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from judge.output_format import Choice, FreeText, Literal, format_segments, scored_segments, to_gbnf
from judge.parsing import LABEL_DECORATION
from models.backend import Backend, Generation
from models.settings import DEFAULT_JUDGE_SETTINGS, SamplingSettings


@dataclass
class ChoiceReading:
    """One choice in the reply: the options, their probabilities (normalised over the options), and the mass."""

    line: str  # the reply's line up to the choice, e.g. "Relevance: " or "Relevance: A=4 B="
    options: list[str]
    probabilities: list[float]
    mass: float  # the probability the judge gives to any allowed option at this point (its confidence)
    chosen: str  # the most probable option, written into the reply before the next choice

    def expected_value(self) -> float:
        return sum(float(option) * p for option, p in zip(self.options, self.probabilities))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["probabilities"] = [round(p, 5) for p in self.probabilities]
        data["mass"] = round(self.mass, 5)
        return data


@dataclass
class FormatReading:
    readings: list[ChoiceReading]
    text: str  # the reply as written with the most probable options, up to the first free-text slot
    feedback: str | None = None  # a format opening with free text: what the judge wrote there, before its choices
    feedback_complete: bool = True  # False: the judge's free text ran to the token limit before the marker
    written: str = ""  # the judge's generated reply the free text was taken from

    def for_criterion(self, criterion: str, slot: str | None = None) -> ChoiceReading | None:
        """The reading of a criterion's score (in pairwise formats, the one for answer slot 'A' or 'B')."""
        label = re.compile(rf"(?i)^{LABEL_DECORATION}{re.escape(criterion)}{LABEL_DECORATION}[:=]")
        found = [r for r in self.readings if label.match(r.line)]
        if slot is not None:
            found = [r for r in found if re.search(rf"(?i)\b{slot}\s*[:=]\s*$", r.line)]
        return found[-1] if found else None

    def with_options(self, options: set[str]) -> ChoiceReading | None:
        """The last reading whose options are exactly `options` (a verdict or a label)."""
        found = [r for r in self.readings if set(r.options) == options]
        return found[-1] if found else None


def _is_ambiguous(options: tuple[str, ...]) -> bool:
    """True when an option is the start of another ('1' and '10'): reading only the option cannot tell them apart."""
    return any(a != b and b.startswith(a) for a in options for b in options)


def _following_text(segments: list, index: int) -> str:
    """The literal text right after segment `index`, up to and including its first line break."""
    if index + 1 < len(segments) and isinstance(segments[index + 1], Literal):
        text = segments[index + 1].text
        return text[: text.index("\n") + 1] if "\n" in text else text
    return ""


def _opens_with_free_text(segments: list) -> bool:
    """'<feedback> [RESULT] <1-5>': free text first, then a literal marker, with a choice after it."""
    return (len(segments) > 2 and isinstance(segments[0], FreeText) and isinstance(segments[1], Literal)
            and any(isinstance(s, Choice) for s in segments[2:]))


def free_text_before(reply: str, marker: str) -> tuple[str, bool] | None:
    """(the free text a judge wrote before `marker`, whether it wrote the marker); None when it wrote the marker
    more than once (in any letter case), which no reading may pick from."""
    found = [m.start() for m in re.finditer(re.escape(marker), reply, re.IGNORECASE)]
    if len(found) > 1:
        return None
    return (reply[:found[0]].strip(), True) if found else (reply.strip(), False)


def read_format(judge: Backend, messages: list[dict], output_format: str,
                settings: SamplingSettings | None = None) -> FormatReading:
    """Walk `output_format`, reading the judge's probability of each choice's options (see the module docstring);
    `settings` bound the free text a format opening with one has the judge write (its max_new_tokens)."""
    with judge.one_reading():  # the prompt stays the judge's own from one choice to the next
        return _walk_format(judge, messages, format_segments(output_format), settings)


def _walk_format(judge: Backend, messages: list[dict], segments: list, settings: SamplingSettings | None
                 ) -> FormatReading:
    text, readings, opening = "", [], None
    if _opens_with_free_text(segments):
        grammar = to_gbnf(scored_segments(segments)) if judge.supports_grammar else None
        written = judge.score(messages, (settings or DEFAULT_JUDGE_SETTINGS).with_(temperature=0.0), grammar).text
        opening = free_text_before(written, segments[1].text.strip())
        if opening is None:
            return FormatReading([], "", None, False, written)
        text = opening[0]
        segments = segments[1:]
    for index, segment in enumerate(segments):
        if isinstance(segment, Literal):
            text += segment.text
        elif isinstance(segment, Choice):
            # '1' vs '10' differ only in what follows: score each option together with the text after it.
            suffix = _following_text(segments, index) if _is_ambiguous(segment.options) else ""
            logprobs = judge.continuation_logprobs(messages, text, [o + suffix for o in segment.options])
            raw = [math.exp(lp) for lp in logprobs]
            mass = sum(raw)
            probabilities = [p / mass for p in raw] if mass > 0 else [1 / len(raw)] * len(raw)
            chosen = segment.options[max(range(len(raw)), key=raw.__getitem__)]
            readings.append(ChoiceReading(text.rsplit("\n", 1)[-1], list(segment.options), probabilities, mass,
                                          chosen))
            text += chosen
        elif isinstance(segment, FreeText):
            break
    if opening is None:
        return FormatReading(readings, text)
    return FormatReading(readings, text, opening[0], opening[1], written)


def read_reply_format(judge: Backend, messages: list[dict], output_format: str, settings: SamplingSettings
                      ) -> tuple[FormatReading, Generation]:
    """(the choices read from the judge's greedy reply's token alternatives, the reply). The walk stops where
    the reply leaves the format: choices after that point have no reading (the record is then unparsed)."""
    segments = format_segments(output_format)
    # Held to the format up to its last choice: a free-text slot after it is not read, so it need not be generated.
    grammar = to_gbnf(scored_segments(segments)) if judge.supports_grammar else None
    reply, tokens, generation = judge.reply_with_probabilities(messages, settings.with_(temperature=0.0), grammar)
    starts, offset = [], 0
    for token in tokens:
        starts.append(offset)
        offset += len(token.token)
    aligned = offset == len(reply)  # token texts that do not add up to the reply cannot be located in it
    position, readings, feedback = 0, [], None
    if _opens_with_free_text(segments):
        marker = segments[1].text.strip()
        opening = free_text_before(reply, marker)
        if opening is None or not opening[1]:  # twice, or never: a served reply cannot have the marker written in
            return FormatReading([], "", None if opening is None else opening[0], False, reply), generation
        feedback, literal = opening[0], segments[1].text
        # The literal (' [RESULT] ') is matched where the marker stands, with the space before it where there is one
        # (a reply may open with the marker, or put it on a line of its own, as the parser allows).
        start, lead = reply.upper().index(marker.upper()), len(literal) - len(literal.lstrip())
        spaced = start >= lead and reply[start - lead:start] == literal[:lead]
        position = start - lead if spaced else start
        segments = [segments[1] if spaced else Literal(literal.lstrip()), *segments[2:]]
    for segment in segments:
        if isinstance(segment, Literal):
            if not reply.startswith(segment.text, position):
                break
            position += len(segment.text)
        elif isinstance(segment, Choice):
            chosen = max((o for o in segment.options if reply.startswith(o, position)), key=len, default=None)
            if chosen is None or not aligned:
                break
            reading = _reading_at(reply, tokens, starts, position, segment.options)
            if reading is None:
                break
            readings.append(reading)
            position += len(chosen)
        else:
            break
    if feedback is None:
        return FormatReading(readings, reply[:position]), generation
    return FormatReading(readings, reply[:position], feedback, True, reply), generation


def _reading_at(reply: str, tokens: list, starts: list[int], position: int, options: tuple[str, ...]
                ) -> ChoiceReading | None:
    """The options' probabilities from the alternatives of the token where the options first differ."""
    differ = position + len(_shared_start(options))
    index = next((i for i, start in enumerate(starts) if start <= differ < start + len(tokens[i].token)), None)
    if index is None:
        return None
    start = starts[index]
    weights = dict.fromkeys(options, 0.0)
    for alternative, logprob in tokens[index].top.items():
        # Each option as the text this token position would then begin with.
        matching = [o for o in options if _continues(reply[start:position] + o if start <= position
                                                     else o[start - position:], alternative, differ - start)]
        if matching:
            weights[min(matching, key=len)] += math.exp(logprob)
    mass = sum(weights.values())
    probabilities = [weights[o] / mass for o in options] if mass > 0 else [1 / len(options)] * len(options)
    chosen = max(options, key=weights.__getitem__) if mass > 0 else options[0]
    return ChoiceReading(reply[:position].rsplit("\n", 1)[-1], list(options), probabilities, mass, chosen)


def _shared_start(options: tuple[str, ...]) -> str:
    first = options[0]
    length = next((i for i in range(len(first)) if any(len(o) <= i or o[i] != first[i] for o in options)), len(first))
    return first[:length]


def _continues(candidate: str, token: str, needed: int) -> bool:
    """Whether `token` at this position spells the start of `candidate` (reaching its distinguishing character), or
    all of it and more."""
    return (len(token) > needed and candidate.startswith(token)) or (len(token) > len(candidate) > needed
                                                                       and token.startswith(candidate))


def weighted_scores(reading: FormatReading, criteria: tuple[str, ...], slot: str | None = None
                    ) -> tuple[dict[str, float], dict[str, float]] | None:
    """({criterion: expected score}, {criterion: confidence}); None when a criterion has no reading."""
    scores, confidence = {}, {}
    for criterion in criteria:
        found = reading.for_criterion(criterion, slot)
        if found is None:
            return None
        scores[criterion] = round(found.expected_value(), 4)
        confidence[criterion] = round(found.mass, 5)
    return scores, confidence
