"""The Compare tab on a laptop's screen (1366x900) in headless Chromium: Compare on the first screen, a line saying
what A and B are, judge settings switched off where they do nothing, the winner's letter in its heading's font, the
preset choices on one line, and error badges beside their text. Scripted models: no weights needed."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 900}
JUDGE_SETTINGS = ("#mode input", "#swap input", "#judge-temperature input", "#judge-method input",
                  "#judge-reasons input")


@pytest.fixture
def laptop(browser, app_url):
    page = browser.new_page(viewport=LAPTOP)
    page.goto(app_url)
    page.locator("#compare").wait_for()
    yield page
    page.close()


def pick(page, **specs) -> None:
    for elem_id, spec in specs.items():
        box = page.locator(f"#picker-{elem_id.replace('_', '-')} input")
        box.fill(spec)
        box.press("Enter")


def overlaps(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def test_compare_is_on_the_first_screen_and_one_line_says_what_a_and_b_are(laptop):
    box = laptop.locator("#compare").bounding_box()
    assert box["y"] + box["height"] <= LAPTOP["height"], box
    line = laptop.locator("#pair-line")
    expect(line).to_be_visible()
    assert "A and B by default are one model" in line.inner_text() and "fine-tunes" in line.inner_text()
    paragraph = line.locator("p").first
    height, line_height = paragraph.evaluate(
        "p => [p.getBoundingClientRect().height, parseFloat(getComputedStyle(p).lineHeight)]")
    assert height < 1.5 * line_height, (height, line_height)  # one line at this width
    assert laptop.locator("#pair-line").bounding_box()["y"] < LAPTOP["height"]
    # the pickers' help is written once, not under each picker
    assert laptop.locator("#tab-compare").inner_text().count("an embedded alias") == 1
    assert "an embedded alias" in laptop.locator("#picker-help").inner_text()
    expect(laptop.locator("#compare-more-judges")).to_be_hidden()  # under "Advanced", closed


def test_judge_settings_are_off_for_the_scoring_judge_and_on_for_a_writing_one(laptop):
    laptop.locator("#judge-settings").get_by_text("Judge", exact=True).first.click()
    note = laptop.locator("#judge-settings-note")
    expect(note).to_contain_text("scoring judge")
    for selector in JUDGE_SETTINGS:
        expect(laptop.locator(selector).first).to_be_disabled()
    expect(laptop.locator("#judge-template .cm-content")).to_have_attribute("contenteditable", "false")
    expect(laptop.locator("#compare-judge-cache input")).to_be_enabled()  # the cache applies to every judge

    pick(laptop, judge="smollm2-135m-gguf")
    for selector in JUDGE_SETTINGS:
        expect(laptop.locator(selector).first).to_be_enabled(timeout=15_000)
    expect(laptop.locator("#judge-template .cm-content")).to_have_attribute("contenteditable", "true")
    expect(note).not_to_contain_text("scoring judge")

    laptop.locator("#judge-method").get_by_label("parsed", exact=True).check()  # reasons come with the reply
    expect(laptop.locator("#judge-reasons input")).to_be_disabled(timeout=15_000)
    expect(note).to_contain_text("parsed method")


def platform_fonts(page, selector: str) -> list[str]:
    """The fonts Chromium drew the element's text with (DevTools' 'Rendered Fonts')."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return [f["familyName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]


def test_the_winner_letter_is_drawn_like_its_heading(laptop):
    """Gradio's SemiBold file holds only a few glyphs (A and B among them): the letter came out in another face."""
    pick(laptop, model_a="scripted:four", model_b="scripted:five",
         judge="scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 3\\nReasons: fine"
               "||Relevance: 4\\nCoherence: 4\\nCompleteness: 4\\nReasons: better")
    laptop.locator("#prompt textarea").fill("What is 2 + 2?")
    laptop.locator("#compare").click()
    heading = laptop.locator("#verdict h3")
    expect(heading).to_contain_text("Winner: B", timeout=60_000)
    letter, whole = heading.evaluate("""h => {
        const text = h.firstChild, at = text.textContent.indexOf('Winner: ') + 8;
        const range = document.createRange(); range.setStart(text, at); range.setEnd(text, at + 1);
        const style = e => [getComputedStyle(e).fontSize, getComputedStyle(e).fontWeight];
        return [style(range.commonAncestorContainer.parentElement), style(h)];
    }""")
    assert letter == whole
    assert len(set(platform_fonts(laptop, "#verdict h3"))) == 1, platform_fonts(laptop, "#verdict h3")
    # the same for bold table headers ("Model A" over the seed Space's example; the Batch summary's headers)
    header = laptop.locator("th", has_text="Model A").first
    header.evaluate("th => th.setAttribute('data-probe', '1')")
    assert len(set(platform_fonts(laptop, "th[data-probe] span, th[data-probe]"))) == 1


def test_the_preset_choices_are_on_one_line(laptop):
    tops = [laptop.locator("#preset label", has_text=name).first.bounding_box()["y"]
            for name in ("p1", "p2", "custom")]
    assert max(tops) - min(tops) < 2, tops


@pytest.mark.parametrize("spec, message", [
    (None, "the prompt is empty"),
    ("smollm2-135m+no-such-adapter-folder", "adapter 'no-such-adapter-folder' not found"),
])
def test_an_error_badge_does_not_cover_the_text_that_explains_it(laptop, spec, message):
    if spec:
        pick(laptop, model_a=spec)
        laptop.locator("#prompt textarea").fill("What is 2 + 2?")
    laptop.locator("#compare").click()
    expect(laptop.locator("#status")).to_contain_text(message, timeout=60_000)
    badge = laptop.locator("#status .error")
    expect(badge).to_be_visible()
    badge_box = badge.bounding_box()
    # the boxes of its lines and of their paragraph: text that wraps further cannot run under the badge either
    text_boxes = laptop.locator("#status .prose").first.evaluate("""e => {
        const range = document.createRange(); range.selectNodeContents(e);
        return Array.from(range.getClientRects()).filter(r => r.width > 0)
            .map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}));
    }""")
    assert text_boxes
    assert not any(overlaps(badge_box, box) for box in text_boxes), (badge_box, text_boxes)
