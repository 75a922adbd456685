"""Fuzzed judge-reply parsers (judge/parsing.py) and output formats (judge/output_format.py): every input ends in a
value or ReplyParseError / OutputFormatError, within a time bound, and the linear patterns read what the old,
backtracking ones read."""
import re
import time

import pytest
from fuzz_settings import LONG_INPUT_SECONDS, fuzz
from hypothesis import given
from hypothesis import strategies as st

from judge.output_format import OutputFormatError, format_segments, output_grammar
from judge.parsing import (
    _NUMBER,
    ReplyParseError,
    _label,
    _pairwise_line,
    parse_label_reply,
    parse_pairwise_reply,
    parse_single_reply,
)

CRITERIA = ("relevance", "coherence")
LABELS = ("toxic", "non_toxic")
# Pieces judges write, so that generated replies often come close to parsing: the edges are where parsers break.
REPLY_PIECES = ["Relevance", "coherence", "Reasons", "Verdict", ":", "=", " ", "  ", "\t", "\n", "**", "- ", "#", ">",
                "A", "B", "tie", "[[", "]]", "[", "]", "0", "3", "4", "-1", "2.5", "99", ",", ";", "/", "|", "toxic",
                "non_toxic", "TOXIC", "é", "\u00a0", "\r\n", "{", "}", "<1-4>", " or "]
SPACING = st.sampled_from(["", " ", "  ", "\t", " \t ", "\n", " \n ", " " * 40])
DECORATION = st.sampled_from(["", "- ", "**", "> ", "## ", "* ", "`", "_", " - "])
NUMBERS = st.sampled_from(["0", "1", "3", "4", "-1", "2.5", "10", "07", "x"])
EQUALS = st.sampled_from([":", "=", ":", "=", ""])
CRITERION_NAMES = st.sampled_from(["Relevance", "relevance", "COHERENCE", "Coherence", "Reasons", "Verdict"])


@st.composite
def reply_lines(draw) -> str:
    """One line a judge might write, well formed or nearly: a score, a pair of scores, a verdict, a label, reasons."""
    label = f"{draw(DECORATION)}{draw(CRITERION_NAMES)}{draw(DECORATION)}{draw(EQUALS)}{draw(SPACING)}"
    pair = (f"{label}A{draw(SPACING)}{draw(EQUALS)}{draw(SPACING)}{draw(NUMBERS)}{draw(SPACING)}"
            f"{draw(st.sampled_from(['', ',', ';', '/', '|', '&']))}{draw(SPACING)}B{draw(SPACING)}{draw(EQUALS)}"
            f"{draw(SPACING)}{draw(NUMBERS)}")
    bracketed = f"[[{draw(SPACING)}{draw(st.sampled_from(['A', 'b', 'tie', 'toxic', 'NON_TOXIC', 'to xic', '']))}" \
                f"{draw(SPACING)}]]"
    kinds = [label + draw(NUMBERS), pair, pair, pair, bracketed, bracketed, f"Reasons: {draw(st.text(max_size=20))}",
             draw(st.text(max_size=10))]
    return draw(st.sampled_from(kinds))


structured_replies = st.lists(st.tuples(reply_lines(), st.sampled_from(["\n", "\n\n", " ", "", "\r\n"])),
                              max_size=8).map(lambda parts: "".join(line + end for line, end in parts))
replies = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(REPLY_PIECES), st.text(max_size=3)), max_size=60).map("".join),
    structured_replies,
)
criteria = st.one_of(st.just(CRITERIA), st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=3).map(tuple))
scales = st.tuples(st.integers(-5, 5), st.integers(-5, 20))

# The patterns as they were before issue 11: right on short text, but they backtrack badly on long runs of spaces.
OLD_PAIRWISE_TAIL = rf"A\s*[:=]\s*{_NUMBER}\s*[,;/|]?\s*B\s*[:=]\s*{_NUMBER}"
OLD_BRACKETED = re.compile(r"\[\[\s*([^\[\]\n]+?)\s*\]\]")


@fuzz(400)
@given(reply=replies, criteria=criteria, scale=scales)
def test_single_replies_end_in_scores_or_a_parse_error(reply, criteria, scale):
    try:
        parsed = parse_single_reply(reply, criteria, scale)
    except ReplyParseError:
        return
    assert set(parsed.scores) == set(criteria)
    assert all(scale[0] <= v <= scale[1] for v in parsed.scores.values())


@fuzz(400)
@given(reply=replies, criteria=criteria, scale=scales)
def test_pairwise_replies_end_in_a_verdict_or_a_parse_error(reply, criteria, scale):
    try:
        parsed = parse_pairwise_reply(reply, criteria, scale)
    except ReplyParseError:
        return
    assert parsed.verdict in ("A", "B", "tie")
    assert set(parsed.scores_a) == set(parsed.scores_b) == set(criteria)


@fuzz(300)
@given(reply=replies, labels=st.one_of(st.just(LABELS), st.lists(st.text(max_size=8), max_size=3).map(tuple)))
def test_label_replies_end_in_a_label_or_a_parse_error(reply, labels):
    try:
        label = parse_label_reply(reply, labels)
    except ReplyParseError:
        return
    assert label in labels


@fuzz(400)
@given(reply=structured_replies, criterion=st.sampled_from(["relevance", "coherence", "a.b", "tie"]))
def test_the_linear_pairwise_pattern_reads_what_the_old_one_read(reply, criterion):
    assert re.findall(_pairwise_line(criterion), reply) == re.findall(_label(criterion) + OLD_PAIRWISE_TAIL, reply)


@fuzz(400)
@given(reply=structured_replies)
def test_the_linear_label_parser_reads_what_the_old_one_read(reply):
    old = [m.lower() for m in OLD_BRACKETED.findall(reply) if m.lower() in LABELS]
    try:
        assert parse_label_reply(reply, LABELS) == old[-1]
    except ReplyParseError:
        assert old == []


FORMAT_PIECES = ["Relevance: ", "<1-4>", "<0-10>", "<", ">", "-", "[[A]]", "[[B]]", " or ", "[[", "]]", "[", "]",
                 "\n", " ", "<one sentence>", "<4-1>", "<1-99999999999>", "9" * 12, "Verdict: "]
formats = st.one_of(st.text(max_size=100),
                    st.lists(st.one_of(st.sampled_from(FORMAT_PIECES), st.text(max_size=3)), max_size=30).map("".join))


@fuzz(300)
@given(output_format=formats)
def test_output_formats_end_in_a_grammar_or_an_output_format_error(output_format):
    try:
        segments = format_segments(output_format)
        grammar = output_grammar(output_format)
    except OutputFormatError:
        return
    assert grammar.startswith("root ::= ")
    assert sum(len(getattr(s, "options", ())) for s in segments) <= 1000 * (output_format.count("<") + 1) + 100


SPACES = " " * 100_000
LONG_INPUTS = [
    pytest.param(lambda: parse_pairwise_reply("[[A]]\nRelevance: A=3" + SPACES, CRITERIA, (1, 4)),
                 id="pairwise: a score line then 100k spaces"),
    pytest.param(lambda: parse_pairwise_reply("[[A]]\nRelevance: A=3," + SPACES + "C", CRITERIA, (1, 4)),
                 id="pairwise: a separator then 100k spaces"),
    pytest.param(lambda: parse_pairwise_reply(SPACES, CRITERIA, (1, 4)), id="pairwise: 100k spaces"),
    pytest.param(lambda: parse_pairwise_reply("[[" + SPACES, CRITERIA, (1, 4)), id="pairwise: [[ then 100k spaces"),
    pytest.param(lambda: parse_single_reply("Relevance:" + SPACES, CRITERIA, (1, 4)),
                 id="single: a label then 100k spaces"),
    pytest.param(lambda: parse_single_reply("Reasons:" + SPACES + "\n" + "-" * 100_000, CRITERIA, (1, 4)),
                 id="single: reasons, spaces and dashes"),
    pytest.param(lambda: parse_label_reply("[[" + SPACES, LABELS), id="label: [[ then 100k spaces"),
    pytest.param(lambda: parse_label_reply("[[" + SPACES + "x" + SPACES + "]", LABELS),
                 id="label: a word among 200k spaces"),
    pytest.param(lambda: parse_label_reply("[[a" * 50_000, LABELS), id="label: 50k openings"),
    pytest.param(lambda: format_segments("[" * 100_000), id="output_format: 100k ["),
    pytest.param(lambda: format_segments("[[a" * 50_000), id="output_format: 50k [[a"),
    pytest.param(lambda: format_segments("<" + SPACES + "1" + SPACES), id="output_format: < and 200k spaces"),
]


@pytest.mark.parametrize("parse", LONG_INPUTS)
def test_long_inputs_are_parsed_in_linear_time(parse):
    started = time.perf_counter()
    try:
        parse()
    except (ReplyParseError, OutputFormatError):
        pass
    assert time.perf_counter() - started < LONG_INPUT_SECONDS


def test_label_judging_uses_the_linear_label_parser():
    import judge.labels

    assert judge.labels.parse_label_reply is parse_label_reply
