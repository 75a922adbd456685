"""Text from models, prompt sets and visitors goes into the page's Markdown as text: HTML escaped, Markdown's
signs backslashed, so nothing in it can become an element or make a viewer's browser fetch a URL."""
import html

import markdown_it
import pytest

from runs.views import as_text, reasons_markdown

PAYLOADS = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "![pixel](http://attacker.example/p.png)",
            "[click](javascript:alert(1))", "**bold** _it_ `code` # heading | table |"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_renders_as_its_own_characters(payload):
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(as_text(payload))
    assert "<img" not in rendered and "<script" not in rendered and "<a " not in rendered
    assert "<strong>" not in rendered and "<em>" not in rendered and "<code>" not in rendered
    plain = rendered.replace("<p>", "").replace("</p>", "").strip()
    assert html.unescape(plain) == payload


def test_the_judge_s_reasons_are_shown_as_text():
    record = {"mode": "single", "method": "parsed", "judgement": {
        "A": {"status": "ok", "reasons": PAYLOADS[0]},
        "B": {"status": "unparsed", "call": {"error": PAYLOADS[2]}}}}
    text = reasons_markdown(record)
    assert "<img" not in text and "![" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_a_tiny_sample_says_too_few_records_instead_of_a_certain_looking_interval():
    from runs.views import plural, win_rate_text

    assert win_rate_text({"rate": 0.5, "low": 0.5, "high": 0.5}, decided=1) == \
        "50% (too few records for an interval: 1)"
    assert win_rate_text({"rate": 0.6, "low": 0.35, "high": 0.8}, decided=20) == "60% (95% interval 35%-80%)"
    assert (plural(1, "record"), plural(3, "record")) == ("1 record", "3 records")
