"""The Results tab in headless Chromium, on synthetic runs written into the test results folder (no models)."""
import os
from pathlib import Path

import pytest

from helpers import act_until, click_cell, wait_settled
from run_builders import RUN1, RUN2, write_run

pytestmark = pytest.mark.browser
SCREENSHOT = os.environ.get("LLM_JUDGE_RESULTS_SCREENSHOT", "/tmp/results_tab.png")


@pytest.fixture(scope="module")
def demo_runs(results_dir):
    # Created far in the future so they are the newest runs: the tab selects the newest by default.
    older = write_run(results_dir, "ui-single", "2999-01-01T00:00:00+00:00", RUN1)
    newer = write_run(results_dir, "ui-pairwise", "2999-01-02T00:00:00+00:00", RUN2, mode="pairwise")
    return older, newer


@pytest.fixture
def page(browser, app_url, demo_runs):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.get_by_role("tab", name="Results").click()
    page.locator("#results-table").wait_for()
    yield page
    page.close()


def table_rows(page) -> int:
    """Rows of the per-prompt table (Gradio 6 draws a virtualised table of div rows, not <tr>)."""
    return page.locator("#results-table .virtual-row").count()


def wait_rows(page, n: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('#results-table .virtual-row').length === {n}",
                           timeout=20_000)


def pick_run(page, folder: str) -> None:
    page.locator("#results-run input").click()
    page.get_by_role("option", name=folder).first.click()


def refresh_and_pick(page, folder: str, shown: str) -> None:
    """Refresh the run list, then pick `folder` until the page's JavaScript `shown` holds. A refresh still in flight
    under load answers with the newest run and puts it back over a pick made meanwhile (it read the picker before the
    pick): so pick again (a CI-risk flake, seen once in each test that picks)."""
    page.locator("#results-refresh").click()
    wait_settled(page, "#results-table")
    assert act_until(page, lambda: pick_run(page, folder), shown, tries=3, timeout_ms=15_000,
                     between=lambda: wait_settled(page, "#results-table"))


def test_pick_a_run_filter_and_export_the_report(page, demo_runs):
    older, newer = demo_runs
    refresh_and_pick(page, older.name, "() => document.querySelector('#results-table')?.innerText.includes('q4')")
    wait_rows(page, 8)
    table = page.locator("#results-table").inner_text()
    for rid in ("q1", "q2", "q3", "q4"):
        assert rid in table
    page.locator("#results-criteria .js-plotly-plot").first.wait_for(timeout=20_000)
    summary = page.locator("#results-summary").inner_text()
    assert "Win rate of A" in summary
    assert "Length-controlled win rate of A: not enough data: 7 decided records with answer lengths" in summary

    # Clicking a row shows both answers.
    click_cell(page, "#results-table",
               "() => document.querySelector('#results-answer-a textarea')?.value.startsWith('Answer A to q1')")
    assert page.locator("#results-answer-b textarea").input_value().startswith("Answer B to q1")

    # The single-mode run has no inconsistent records; the pairwise run has exactly one (q2).
    page.locator("#results-filter").get_by_label("inconsistent", exact=True).check()
    page.wait_for_function("() => !document.querySelector('#results-table')?.innerText.includes('q1')",
                           timeout=20_000)
    assert table_rows(page) <= 1  # an empty table may keep one blank row
    pick_run(page, newer.name)
    page.wait_for_function("() => document.querySelector('#results-summary')?.innerText.includes('consistency')",
                           timeout=20_000)
    wait_rows(page, 1)
    assert "q2" in page.locator("#results-table").inner_text()
    page.locator("#results-filter").get_by_label("all", exact=True).check()
    wait_rows(page, 4)

    page.locator("#results-export-html").click()
    link = page.locator("#results-download a").first
    link.wait_for(timeout=30_000)
    assert link.get_attribute("href").endswith("ui-pairwise-report.html")
    served = page.request.get(link.get_attribute("href"))
    assert served.ok and b"Plotly.newPlot" in served.body() and b">q3<" in served.body()
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert Path(SCREENSHOT).stat().st_size > 10_000


def test_a_run_with_no_prompt_in_common_says_so_and_the_history_names_its_judges(page, demo_runs, results_dir):
    from run_builders import make_record

    _, newer = demo_runs
    elsewhere = write_run(results_dir, "ui-elsewhere", "2998-12-31T00:00:00+00:00",
                          [make_record(f"z{i}", "p1", (4, 4, 4), (2, 2, 2), "A") for i in range(2)])
    # The newest run here is `elsewhere`: the one a refresh in flight would put back over the pick.
    refresh_and_pick(page, newer.name,
                     f"() => document.querySelector('#results-run input')?.value.includes('{newer.name}') && "
                     "document.querySelector('#results-summary')?.innerText.includes('consistency')")
    page.locator("#results-compare-settings").get_by_text("Compare with another run").first.click()
    page.locator("#results-other input").click()
    page.get_by_role("option", name=elsewhere.name).first.click()
    page.wait_for_function("() => document.querySelector('#results-compare')?.innerText.includes('no prompt in common')",
                           timeout=20_000)
    assert "Win rate" not in page.locator("#results-compare").inner_text()  # no deltas of unrelated prompts
    assert "z1" not in page.locator("#results-changes").inner_text() and "q1" not in \
        page.locator("#results-changes").inner_text()
    page.locator("#results-history-settings").get_by_text("History across runs").first.click()
    page.wait_for_function("() => document.querySelector('#results-history-note')?.innerText.includes('judged by')",
                           timeout=20_000)
    page.locator("#results-history .js-plotly-plot").wait_for(timeout=20_000)
