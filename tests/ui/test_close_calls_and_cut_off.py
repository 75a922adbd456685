"""Too close to call, cut-off answers and the closing sentence on the page, in headless Chromium, with scripted
models and judges (given replies, no weights): Compare's verdict, answer labels and trust line, and the Results
tab's summary, charts and report for a run made by the pipeline."""
import json
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from helpers import set_slider

pytestmark = pytest.mark.browser

# The first judge puts A a point ahead (9 vs 8), the second calls them equal (8 vs 8): the panel's means are 8.5 and
# 8, half a point, under one step of the 1-4 scale.
LEANS_A = "scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 3\\nReasons: fine||" \
          "Relevance: 3\\nCoherence: 3\\nCompleteness: 2\\nReasons: fine"
EVEN = "scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 2\\nReasons: fine"
LONG_A = "scripted:" + " ".join(f"word{i}" for i in range(40))
SHORT_B = "scripted:a short answer"


def type_spec(page, elem_id: str, spec: str) -> None:
    box = page.locator(f"#{elem_id} input")
    if not box.is_visible():  # the panel picker sits in the closed "Advanced" section
        page.locator("#advanced").get_by_text("Advanced").first.click()
    box.fill(spec)
    box.press("Enter")


def shown(page, elem_id: str) -> str:
    """A picker's text: a single choice sits in its input box, a panel's choices as chips beside it."""
    return page.locator(f"#{elem_id}").inner_text() + page.locator(f"#{elem_id} input").input_value()


TYPED = (("picker-model-a", LONG_A, "word39"), ("picker-model-b", SHORT_B, "a short answer"),
         ("picker-judge", LEANS_A, "Completeness: 2"), ("compare-more-judges", EVEN, "Completeness: 2"))


def test_compare_says_too_close_to_call_and_cut_off_at_n_tokens(page):
    # The page's load events refresh pickers; under load a reply can land after a value was typed and re-render the
    # picker without it, so a value not held after a second is typed again (only that one: a panel picker typed
    # twice would hold the judge twice).
    missing = TYPED
    for _ in range(3):
        for elem_id, spec, _shown in missing:
            type_spec(page, elem_id, spec)
        page.wait_for_timeout(1_000)
        missing = [t for t in TYPED if t[2] not in shown(page, t[0])]
        if not missing:
            break
    expect(page.locator("#compare-more-judges")).to_contain_text("Completeness: 2", timeout=15_000)
    set_slider(page, "max-new-tokens", 16)
    page.locator("#judge-settings").get_by_text("Judge", exact=True).first.click()
    # The section's controls appear as it opens; a value typed at that moment can be overwritten by the slider's
    # first value (the run then saved tie_band 0.05: 3 of 7 runs of these browser files on two workers, before this
    # change too), so it is typed again until the box holds it after a pause.
    band = page.locator("#tie-band input[type=number]")
    for _ in range(3):
        set_slider(page, "tie-band", 0.1)
        page.wait_for_timeout(500)
        if band.input_value() == "0.1":
            break
    expect(band).to_have_value("0.1")
    page.locator("#prompt textarea").fill("Describe your day.")
    page.locator("#compare").click()
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Saved to')", timeout=90_000)
    verdict = page.locator("#verdict").inner_text()
    assert verdict.startswith("Too close to call (counted as a tie): the judge leaned to A"), verdict
    assert "A's total is 0.50 higher, less than one point" in verdict
    expect(page.locator("#answer-a")).to_contain_text("Answer A · cut off at 16 tokens (max new tokens)")
    assert "cut off" not in page.locator("#answer-b").inner_text()
    assert page.locator("#answer-a textarea").input_value() == " ".join(f"word{i}" for i in range(16))
    status = page.locator("#status").inner_text()
    assert "answer A was cut off at 16 tokens (max new tokens): its completeness was graded on unfinished text" \
        in status
    folder = Path(status.split("Saved to ")[1].split()[0].strip("`"))
    assert json.loads((folder / "run.json").read_text())["config"]["tie_band"] == 0.1  # the control's value
    record = json.loads((folder / "records.jsonl").read_text())
    assert record["winner"] == "tie" and record["margin"]["too_close"] is True
    assert record["answers"]["A"]["finish_reason"] == "length"
    # Room for the whole answer: the next comparison's label drops the note.
    set_slider(page, "max-new-tokens", 64)
    page.locator("#compare").click()
    expect(page.locator("#answer-a textarea")).to_have_value(" ".join(f"word{i}" for i in range(40)),
                                                             timeout=60_000)
    # The folder saved to, compared whole: a run made in the same second as the first is named after it ('-2' added)
    page.wait_for_function("""(first) => {
        const saved = (document.querySelector('#status')?.innerText || '').split('Saved to ')[1];
        return saved !== undefined && saved.trim().split(/\\s/)[0].replaceAll('`', '') !== first;
    }""", arg=str(folder), timeout=60_000)
    expect(page.locator("#answer-a")).not_to_contain_text("cut off")


@pytest.fixture
def scripted_run(results_dir) -> Path:
    """Six prompts through the pipeline: every verdict too close to call, every answer of A cut off at 4 tokens."""
    from models.registry import unload_all
    from runs.config import CompareConfig
    from runs.pipeline import run_compare
    from runs.prompt_sets import PromptItem

    unload_all()
    config = CompareConfig(model_a=LONG_A, model_b=SHORT_B, judge=LEANS_A, more_judges=[EVEN],
                           out_dir=str(results_dir))
    config.sampling = config.sampling.with_(max_new_tokens=4)
    *_, done = run_compare(config, [PromptItem(id=f"q{i}", prompt=f"Question {i}?") for i in range(6)],
                           label="close-calls")
    unload_all()
    return done.run_dir


def test_the_results_summary_charts_and_report_end_with_what_the_intervals_say(browser, app_url, scripted_run):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.get_by_role("tab", name="Results").click()
    page.locator("#results-refresh").click()
    # The tab opens on the newest run, whose summary also ends with a conclusion: wait for this run's (6 records).
    # A refresh asked before the pick could answer after it and put the newest run back (a suite run under a
    # profiler saw it once); a refresh that keeps the run shown no longer sends a value (ui/results_tab.py), but one
    # that moves it still does, so the run is picked again if its summary has not come.
    for attempt in range(3):
        page.locator("#results-run input").click()
        page.get_by_role("option", name=scripted_run.name).first.click()
        try:
            page.wait_for_function("() => { const s = document.querySelector('#results-summary')?.innerText || '';"
                                   " return s.includes('6 records') && s.includes('Conclusion'); }", timeout=15_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    summary = page.locator("#results-summary").inner_text()
    assert "Too close to call: 6 of the 6 ties were too close to call (tie band 0.05" in summary
    assert "Cut off: 6 of A's and 0 of B's 6 answers were cut off at 4 tokens" in summary
    # All ties, A half a point ahead on every prompt: the mean differs, the win rate (50%) does not.
    conclusion = summary.split("Conclusion:")[1]
    assert conclusion.strip().startswith("A scored higher on average, but not on most prompts: A won 50%")
    page.locator("#results-wins .js-plotly-plot").first.wait_for(timeout=20_000)
    wins = page.locator("#results-wins").text_content()
    assert "Tie (6 too close to call)" in wins and "its win rate's 95% interval includes 50%" in wins
    assert "A is better" not in wins
    length = page.locator("#results-length").text_content()
    assert "cut off at 4 tokens (max new tokens): A 6, B 0" in length
    page.locator("#results-export-html").click()
    link = page.locator("#results-download a").first
    link.wait_for(timeout=30_000)
    report = page.request.get(link.get_attribute("href")).body().decode("utf-8")
    assert "<b>Conclusion:</b> A scored higher on average" in report
    assert "Model A — total 8.5 of 12 · cut off at 4 tokens" in report and "winner tie (too close to call)" in report
    page.close()
