"""The Judge Lab tab in headless Chromium: validate the real default judge on the shipped labelled pairs, read the
table, plots and disagreements, export; write a template, see it refused while invalid and saved once valid."""
import json
import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from judge.templates import load_template

pytestmark = [pytest.mark.model, pytest.mark.browser]
SCREENSHOT = Path(tempfile.gettempdir()) / "judge_lab_tab.png"


@pytest.fixture
def lab(page):
    page.get_by_role("tab", name="Judge Lab").click()
    page.locator("#lab-run").wait_for()
    return page


def test_validating_the_default_judge_fills_the_lab(lab):
    limit = lab.locator("#lab-limit input")
    limit.fill("2")
    limit.press("Enter")
    judges = lab.locator("#lab-judges input")  # beside the default (a scoring judge), the embedded writing judge
    judges.fill("smollm2-135m-gguf")
    judges.press("Enter")
    lab.locator("#lab-methods").get_by_label("parsed", exact=True).check()  # probabilities is ticked already
    lab.locator("#lab-run").click()
    lab.wait_for_function("() => document.querySelector('#lab-status')?.innerText.includes('Finished')",
                          timeout=300_000)
    table = lab.locator("#lab-metrics").inner_text()
    assert "smollm2-135m-judge" in table and "head" in table  # the default, measured once whatever the methods
    assert "smollm2-135m-gguf" in table and "probabilities" in table and "parsed" in table
    assert "position consistency" in table and "[" in table  # the agreement's interval
    for elem_id in ("lab-confusion", "lab-lengths", "lab-calibration"):
        lab.locator(f"#{elem_id} .js-plotly-plot").wait_for(timeout=20_000)
    folder = Path(lab.locator("#lab-status").inner_text().split("Saved to ")[1].split()[0].strip("`"))
    assert (folder / "summary.json").is_file() and len(list(folder.glob("*/metrics.json"))) == 3
    lab.locator("#lab-export-csv").click()
    link = lab.locator("#lab-download a").first
    link.wait_for(timeout=30_000)
    served = lab.request.get(link.get_attribute("href"))
    assert served.ok and b"agreement (ties" in served.body() and b"smollm2-135m-gguf" in served.body()
    lab.screenshot(path=str(SCREENSHOT), full_page=True)


def test_a_scoring_judge_s_run_fits_the_page_and_says_what_it_could_not_measure(browser, app_url):
    """At 1366x900: the status leaves Loading; every metric column is inside the table's box and the page (or the
    table scrolls inside its box); a judge stating no probabilities gets a note instead of an empty calibration
    plot; the method that ran (head) stands beside the one ticked, with why."""
    lab = browser.new_page(viewport={"width": 1366, "height": 900})
    try:
        lab.goto(app_url)
        lab.get_by_role("tab", name="Judge Lab").click()
        limit = lab.locator("#lab-limit input")
        limit.fill("2")
        limit.press("Enter")
        lab.locator("#lab-run").click()  # the default judge alone: a scoring judge, probabilities ticked
        lab.wait_for_function("() => document.querySelector('#lab-status')?.innerText.includes('Finished')",
                              timeout=300_000)
        assert "Loading" not in lab.locator("#lab-status").inner_text()
        expect(lab.locator("#lab-metrics")).to_contain_text("s / item")
        box = lab.locator("#lab-metrics").bounding_box()
        last = lab.locator("#lab-metrics th").last.bounding_box()
        scrolls = lab.evaluate("""() => [...document.querySelectorAll('#lab-metrics *')].some(
            e => e.scrollWidth > e.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))""")
        inside = last["x"] + last["width"] <= min(box["x"] + box["width"], 1366) + 3  # the cells' borders
        assert inside or scrolls, (last, box)
        assert inside, ("every column fits at 1366 px", last, box)  # what the wrapped, sized columns give  # what the wrapped, sized columns give today
        assert "head (ticked: probabilities)" in lab.locator("#lab-metrics").inner_text()
        notes = lab.locator("#lab-notes").inner_text()
        assert "ran head where probabilities was ticked" in notes and "scoring judge" in notes
        assert "No calibration plot" in notes
        assert lab.locator("#lab-calibration").is_hidden()
        lab.screenshot(path=str(Path(tempfile.gettempdir()) / "judge_lab_1366.png"), full_page=True)
    finally:
        lab.close()


def test_a_template_written_in_the_lab_is_validated_before_it_is_saved(lab):
    lab.locator("#lab-template-settings").get_by_text("Judge template", exact=True).first.click()
    editor = lab.locator("#lab-template-text .cm-content")
    expect(editor).to_contain_text("output_format", timeout=15_000)  # the default is in before it is replaced
    editor.click()
    lab.keyboard.press("Control+a")
    lab.keyboard.press("Delete")
    lab.keyboard.insert_text("name: pass-fail\nmode: label\nlabels: [pass, fail]\ntemplate: 'Is it right?'\n"
                             "output_format: 'Label: [[pass]] or [[fail]]'\n")
    lab.locator("#lab-save-name input, #lab-save-name textarea").first.fill("pass-fail")
    lab.locator("#lab-save").click()
    lab.get_by_text("must contain {answer}").first.wait_for(timeout=15_000)  # refused: nothing to classify
    assert not (Path(os.environ["LLM_JUDGE_TEMPLATES"]) / "pass-fail.yaml").exists()
    editor.click()
    lab.keyboard.press("Control+a")
    lab.keyboard.press("Delete")
    lab.keyboard.insert_text("name: pass-fail\nmode: label\nlabels: [pass, fail]\ntemplate: 'Is it right? {answer}'\n"
                             "output_format: 'Label: [[pass]] or [[fail]]'\n")
    lab.locator("#lab-save").click()
    lab.wait_for_function("() => document.querySelector('#lab-save-status')?.innerText.includes('Saved')",
                          timeout=15_000)
    assert load_template("pass-fail").labels == ("pass", "fail")


def test_a_judge_distilled_in_the_lab_is_measured_and_offered_as_a_judge(lab):
    lab.locator("#distill-panel").get_by_text("Train a judge from labels", exact=False).first.click()
    name = lab.locator("#distill-name input, #distill-name textarea").first
    # The accordion mounts its widgets as it opens and then sets their first values: typing before the default has
    # arrived can be overwritten by it (the likely cause of a CI failure in which no report was under lab-student).
    # Under load (the whole suite on 2 cores) the default was seen to arrive again after that: type until it holds.
    expect(name).to_have_value("student", timeout=15_000)
    limit = lab.locator("#distill-limit input")
    for box, value in ((name, "lab-student"), (limit, "9")):  # 9 rows: 8 to train on, 1 held out (its prompt's hash)
        for _ in range(20):
            box.fill(value)
            box.press("Tab")
            lab.wait_for_timeout(500)
            if box.input_value() == value:
                break
        expect(box).to_have_value(value)
    lab.locator("#distill-run").click()
    lab.wait_for_function("() => document.querySelector('#distill-status')?.innerText.includes('Done')",
                          timeout=300_000)
    assert "judges/lab-student" in lab.locator("#distill-status").inner_text()  # saved under the name typed
    table = lab.locator("#distill-table").inner_text()
    assert "before: smollm2-135m-gguf" in table and "after: the student" in table and "[" in table
    folder = Path(os.environ["LLM_JUDGE_ADAPTERS"]) / "judges" / "lab-student"
    report = json.loads((folder / "report.json").read_text())
    assert report["config"]["held_out"] == 0.2 and report["counts"]["held_out"] >= 1  # the panel's default share
    for elem_id in ("distill-curve", "distill-loss"):
        lab.locator(f"#{elem_id} .js-plotly-plot").wait_for(timeout=20_000)
    assert (folder / "report.json").is_file() and (folder / "head.npz").is_file()
    lab.screenshot(path=str(Path(tempfile.gettempdir()) / "judge_lab_distill.png"), full_page=True)
    lab.locator("#lab-judges input").fill("lab-student")  # the lab's own judge picker offers the student at once
    lab.get_by_role("option", name="lab-student").first.wait_for(timeout=10_000)  # a substring of the spec
