"""The page opened in headless Chromium (Debian's package, driven by Playwright): what a person sees."""
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from helpers import set_slider

pytestmark = [pytest.mark.model, pytest.mark.browser]


def test_compare_click_streams_both_answers_and_shows_the_score_table(page):
    page.get_by_text("Give detailed instructions for building a birdhouse").first.click()
    # The example fills the box through a round trip to the server: wait for it rather than read at once.
    expect(page.locator("#prompt textarea")).to_have_value(re.compile("birdhouse"), timeout=20_000)
    set_slider(page, "max-new-tokens", 16)
    page.locator("#compare").click()
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Saved to')", timeout=240_000)
    answer_a = page.locator("#answer-a textarea").input_value()
    answer_b = page.locator("#answer-b textarea").input_value()
    assert answer_a.strip() and answer_b.strip()
    table = page.locator("#scores").inner_text()
    for label in ("Relevance", "Coherence", "Completeness", "Total (of 12)"):
        assert label in table
    assert "unparsed" not in table  # the default judge scores every answer: nothing to parse
    assert any(word in page.locator("#verdict").inner_text() for word in ("Winner", "Tie", "Too close to call"))
    assert "scoring judge" in page.locator("#reasons").inner_text()  # the default writes no reasons, and says so
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "llm-judge-compare.png"), full_page=True)


def test_empty_prompt_shows_an_error_message_in_the_page(page):
    page.locator("#compare").click()
    message = page.get_by_text("the prompt is empty")
    message.first.wait_for(timeout=30_000)
    assert message.first.is_visible()


def test_switching_to_pairwise_loads_the_pairwise_template(page):
    box = page.locator("#picker-judge input")  # a writing judge: the default scores each answer alone, single only
    box.fill("smollm2-135m-gguf")
    box.press("Enter")
    page.locator("#judge-settings").get_by_text("Judge", exact=True).first.click()
    expect(page.locator("#mode input").first).to_be_enabled(timeout=15_000)
    page.locator("#mode").get_by_label("pairwise", exact=True).check()
    page.wait_for_function("() => document.body.innerText.includes('{answer_b}')", timeout=15_000)


def test_an_edited_template_changes_the_score_table_rows_and_caption(page):
    """Scripted models and judge typed into the pickers, a 1-10 template typed into the editor."""
    judge = "scripted:Accuracy: 9\\nStyle: 7\\nReasons: precise||Accuracy: 3\\nStyle: 10\\nReasons: pretty"
    for elem_id, spec in (("picker-model-a", "scripted:four"), ("picker-model-b", "scripted:five"),
                          ("picker-judge", judge)):
        box = page.locator(f"#{elem_id} input")
        box.fill(spec)
        box.press("Enter")
    page.locator("#judge-settings").get_by_text("Judge", exact=True).first.click()
    editor = page.locator("#judge-settings .cm-content")
    expect(editor).to_contain_text("output_format", timeout=15_000)  # the default is in before it is replaced
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(
        "name: ten\nmode: single\ncriteria: [accuracy, style]\nscale: [1, 10]\n"
        'template: "Q: {prompt}\\nA: {answer}\\n{output_format}"\n'
        'output_format: "Accuracy: <1-10>\\nStyle: <1-10>\\nReasons: <one sentence>"\n')
    page.locator("#prompt textarea").fill("What is 2 + 2?")
    page.locator("#compare").click()
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Saved to')", timeout=60_000)
    page.get_by_text("Scores (1-10 per criterion, total of 20)").first.wait_for(timeout=15_000)
    table = page.locator("#scores").inner_text()
    for label in ("Accuracy", "Style", "Total (of 20)", "16", "13"):
        assert label in table, table
    assert "Relevance" not in table


def test_the_seed_space_pair_is_an_example_and_uncached_hub_ids_say_how_to_get_them(page):
    """The example fills both pickers with the seed Space's hub ids; this machine's cache does not hold them and it is
    offline, so Compare says so on the page with the command that downloads them."""
    page.get_by_text("KolumbusLindh/LoRA-6150").first.click()
    expect(page.locator("#picker-model-a input")).to_have_value("forestav/LoRA-2000", timeout=20_000)
    expect(page.locator("#picker-model-b input")).to_have_value("KolumbusLindh/LoRA-6150")
    page.locator("#compare").click()
    message = page.get_by_text("could not load hub model 'forestav/LoRA-2000'")
    message.first.wait_for(timeout=120_000)
    assert "hf download forestav/LoRA-2000" in message.first.inner_text()
