"""runs/views.py reasons_markdown: reasons that echo the answer are shown as none, with the judge's reply behind a
closed disclosure, as text; reasons that judge are shown as they are."""
import markdown_it

from runs.views import NO_WRITTEN_REASONS, reasons_markdown

PROMPT = "Explain how to bake a chocolate cake without using eggs."
ANSWER = ("To bake a chocolate cake without using eggs, you'll need to rely on other ingredients that are commonly "
          "used in chocolate recipes. Here's a step-by-step guide to make a chocolate cake without eggs:")
ECHO = "<<<\n" + ANSWER  # as smollm2-135m-gguf wrote its reasons (see tests/judge/test_echo.py)
GENUINE = "It promises no eggs, then never says what replaces them."


def record(reasons_a: str, reasons_b: str, method: str = "probabilities", raw_a: str = "Relevance: 3") -> dict:
    part = lambda reasons, raw: {"status": "ok", "reasons": reasons, "call": {"raw_replies": [raw]}}  # noqa: E731
    return {"mode": "single", "method": method, "prompt": PROMPT,
            "answers": {"A": {"text": ANSWER}, "B": {"text": "Use applesauce instead of eggs."}},
            "judgement": {"A": part(reasons_a, raw_a), "B": part(reasons_b, "Relevance: 4")}}


def rendered(text: str) -> str:
    return markdown_it.MarkdownIt("commonmark").render(text)


def test_an_echo_is_shown_as_no_reasons_with_the_reply_behind_a_disclosure():
    text = reasons_markdown(record(ECHO, GENUINE))
    side_a, side_b = text.split("**B:**")
    assert NO_WRITTEN_REASONS in side_a and "<details>" in side_a
    assert GENUINE in side_b and NO_WRITTEN_REASONS not in side_b
    html = rendered(text)
    # the reply is inside the closed disclosure, as code: its <<< fence shows as characters
    disclosure = html[html.index("<details>"):html.index("</details>")]
    assert "&lt;&lt;&lt;" in disclosure and "you'll need to rely on other ingredients" in disclosure
    assert "<details open" not in html


def test_the_parsed_method_shows_its_whole_reply_and_html_in_it_stays_text():
    raw = "Relevance: 2\nCoherence: 2\nCompleteness: 1\nReasons: <<<\n<img src=x onerror=alert(1)> ```" + ANSWER
    text = reasons_markdown(record("<<<\n<img src=x onerror=alert(1)> ```" + ANSWER, GENUINE, method="parsed",
                                   raw_a=raw))
    html = rendered(text)
    assert "Completeness: 1" in html
    assert "<img" not in html and "&lt;img src=x" in html


def test_genuine_reasons_are_shown_unchanged():
    text = reasons_markdown(record(GENUINE, "Short, but it answers."))
    assert NO_WRITTEN_REASONS not in text and "<details>" not in text
    assert GENUINE in text
