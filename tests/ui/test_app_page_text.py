"""The page a stakeholder sees, in headless Chromium: text from models, prompts and visitors shows as text in every
place it appears; errors stay next to what failed; the Results tab opens on the newest finished run, read when
shown. Runs are hand-made (tests/run_builders.py) or made by scripted models: no weights needed."""
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from helpers import click_cell
from run_builders import make_record, write_run

pytestmark = pytest.mark.browser

IMG = '<img src=x id="injected-img">'
SCRIPT = '<script id="injected-script">window.injected = 1</script>'
PIXEL = "![pixel](http://attacker.example/p.png)"


def hostile_record(rid):
    record = make_record(rid, "p1", (4, 4, 4), (2, 2, 2), "A")
    record["prompt"] = f"Summarise {IMG} and {SCRIPT}"
    record["answers"]["A"]["text"] = f"Answer with {SCRIPT}"
    record["judgement"]["A"]["reasons"] = f"Because {IMG} {PIXEL}"
    record["judgement"]["B"]["reasons"] = f"Also {SCRIPT}"
    return record


@pytest.fixture
def results_page(browser, app_url):
    page = browser.new_page(viewport={"width": 1366, "height": 1400})
    page.goto(app_url)
    yield page
    page.close()


def no_injected_elements(page) -> None:
    assert page.locator("#injected-img").count() == 0
    assert page.locator("#injected-script").count() == 0
    assert page.evaluate("() => window.injected === undefined")
    assert page.locator("img[src*='attacker.example']").count() == 0


def test_a_run_saved_after_the_page_opened_is_the_one_the_results_tab_opens_on_and_its_text_is_text(
        results_page, results_dir):
    """The run is written after the app started (and after this page loaded): the lists are read when shown."""
    folder = write_run(results_dir, "hostile-text", "3000-01-01T00:00:00+00:00", [hostile_record("h1")])
    results_page.get_by_role("tab", name="Results").click()
    results_page.wait_for_function("() => document.querySelector('#results-summary')?.innerText.includes('1 record')",
                                   timeout=20_000)
    # Another test's run of one record may be listed first for a moment: wait for the list to name this one.
    results_page.wait_for_function(
        f"() => document.querySelector('#results-run input')?.value.includes('{folder.name}')", timeout=20_000)
    assert "not validated" in results_page.locator("#results-summary").inner_text()  # the run's judge, unmeasured
    click_cell(results_page, "#results-table",
               "() => document.querySelector('#results-detail')?.innerText.includes('Because')")
    detail = results_page.locator("#results-detail").inner_text()
    assert IMG in detail and SCRIPT in detail and PIXEL in detail  # shown as the characters they are
    assert SCRIPT in results_page.locator("#results-answer-a textarea").input_value()
    no_injected_elements(results_page)
    other = results_page.locator("#results-compare-settings")
    other.get_by_text("Compare with another run").click()
    results_page.locator("#results-other input").click()
    options = results_page.get_by_role("option").all_inner_texts()
    assert not any(folder.name in option for option in options), "the selected run offered as its own 'before'"


def test_compare_shows_a_judge_s_reasons_and_the_prompt_as_text(results_page):
    judge = f"scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 3\\nReasons: see {IMG} {PIXEL}"
    for elem_id, value in (("picker-model-a", "scripted:" + SCRIPT), ("picker-model-b", "scripted:fine"),
                           ("picker-judge", judge)):
        box = results_page.locator(f"#{elem_id} input")
        box.fill(value)
        box.press("Enter")
    results_page.locator("#prompt textarea").fill(f"Explain {IMG}")
    results_page.locator("#compare").click()
    results_page.wait_for_function("() => document.querySelector('#reasons')?.innerText.includes('see')",
                                   timeout=60_000)
    assert IMG in results_page.locator("#reasons").inner_text()
    assert SCRIPT in results_page.locator("#answer-a textarea").input_value()
    no_injected_elements(results_page)
    trust = results_page.locator("#status").inner_text()  # item 3: how far to trust it, next to the verdict
    assert "How far to trust this verdict" in trust and "not validated" in trust and "written reply" in trust


def test_a_failed_compare_keeps_its_error_on_the_page_after_the_pop_up(results_page, results_dir):
    from runs.store import unfinished_runs

    unfinished_before = unfinished_runs()
    box = results_page.locator("#picker-model-a input")
    box.fill("no-such-model-anywhere")
    box.press("Enter")
    results_page.locator("#prompt textarea").fill("Say hello.")
    results_page.locator("#compare").click()
    results_page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Failed')",
                                   timeout=60_000)
    results_page.get_by_test_id("toast-body").first.wait_for(timeout=10_000)  # the pop-up came
    # Closed by its own button, as a person does, instead of waiting out its ~10 s.
    for close in results_page.get_by_test_id("toast-close").all():
        try:
            close.click(timeout=3_000)
        except PlaywrightError:  # it went by itself meanwhile
            pass
    expect(results_page.get_by_test_id("toast-body")).to_have_count(0, timeout=15_000)
    status = results_page.locator("#status").inner_text()
    assert "Failed" in status and "no-such-model-anywhere" in status
    assert "Loading" not in results_page.locator("#verdict").inner_text()
    assert unfinished_runs() == unfinished_before, "a failed start must not leave a run to 'resume'"


@pytest.mark.parametrize("width", [1366, 800])
def test_every_tab_fits_the_width_without_cut_off_controls(browser, app_url, width, tmp_path):
    """Nothing wider than the window (a control cut off at the right edge makes the page scroll sideways); the
    screenshots are kept for a person to look at (LLM_JUDGE_SCREENSHOTS, else the test's temporary folder)."""
    import os
    from pathlib import Path

    folder = Path(os.environ.get("LLM_JUDGE_SCREENSHOTS") or tmp_path)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(app_url)
    page.locator("#compare").wait_for()
    for tab in ("Compare", "Training", "Batch", "Results", "Judge Lab"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(800)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        page.screenshot(path=str(folder / f"{tab.replace(' ', '_')}_{width}.png"), full_page=True)
        assert overflow <= 0, f"the {tab} tab is {overflow} px wider than a {width} px window"
    page.close()
