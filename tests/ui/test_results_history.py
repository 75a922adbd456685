"""The Results tab's history follows a suite across its runs in a real browser: pick "Suite pass rate", see the
suite's line and the words on its latest point."""
import json

import pytest

from evals.outcomes import SUITE_OUTCOME

pytestmark = pytest.mark.browser


def test_the_history_follows_a_suite_s_pass_rate(browser, app_url, results_dir):
    for n, passed in enumerate((["a"], ["a", "b", "c"])):
        folder = results_dir / f"2999-0{n + 1}-suite-history-demo"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SUITE_OUTCOME).write_text(json.dumps({
            "created": f"2999-0{n + 1}-01T00:00:00+00:00", "suite": "history-demo", "model": "my-model",
            "judges": ["judge-x"], "cases": 4, "passed": passed,
            "pass_rate": {"rate": len(passed) / 4, "low": 0.05, "high": 0.95}}))
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.get_by_role("tab", name="Results").click()
    page.locator("#results-history-settings").get_by_text("History across runs").first.click()
    page.locator("#results-metric input").click()
    page.get_by_role("option", name="Suite pass rate (cases passed, per suite and model)").click()
    page.wait_for_function("() => document.querySelector('#results-history-note')?.innerText.includes('75%')",
                           timeout=20_000)
    note = page.locator("#results-history-note").inner_text()
    assert "history-demo · my-model" in note and "3 of 4 cases" in note and "cases that passed" in note
    page.locator("#results-history .js-plotly-plot").wait_for(timeout=20_000)
    assert "history-demo" in page.locator("#results-history").inner_text()  # the line's legend
    page.close()
