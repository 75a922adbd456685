"""The Batch tab and the Compare tab's vote buttons, driven in headless Chromium."""
import json
import tempfile
from pathlib import Path

import pytest

from helpers import act_until, set_slider

pytestmark = [pytest.mark.model, pytest.mark.browser]


def open_batch_tab(page):
    page.get_by_role("tab", name="Batch").click()
    page.locator("#batch-run").wait_for()


def test_a_two_prompt_batch_streams_records_into_the_table_and_saves_a_finished_run(page):
    open_batch_tab(page)
    set_slider(page, "batch-max-new-tokens", 8)
    limit = page.locator("#batch-limit input")
    limit.fill("2")
    limit.press("Enter")
    page.locator("#batch-run").click()
    page.wait_for_function("() => document.querySelector('#batch-status')?.innerText.includes('Finished')",
                           timeout=480_000)
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "batch_tab.png"), full_page=True)
    status = page.locator("#batch-status").inner_text()
    assert "2 record(s)" in status and "mean total A" in status
    table = page.locator("#batch-table").inner_text()
    assert "study-01" in table and "study-02" in table and "study-03" not in table
    assert table.count("study-") == 2, table  # two rows: one record per prompt at the one preset
    folder = Path(status.split("Saved to ")[1].split()[0].strip("`"))
    assert len((folder / "records.jsonl").read_text().splitlines()) == 2
    assert (folder / "summary.json").is_file()


def test_an_uploaded_bad_csv_shows_its_error_in_the_page(page, tmp_path):
    open_batch_tab(page)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question\n1,What is a tent?\n")
    with page.expect_file_chooser() as chooser:
        page.locator("#batch-upload").click()
    chooser.value.set_files(str(bad))
    page.wait_for_function("() => document.querySelector('#batch-status')?.innerText.includes('Cannot use')",
                           timeout=30_000)
    assert "needs a header row with a 'prompt' column" in page.locator("#batch-status").inner_text()


def test_voting_before_a_comparison_is_refused_and_after_one_is_saved_with_the_run(page):
    assert page.locator("#vote-a").is_disabled()  # nothing to vote on yet (the server refuses it too: cast_vote)
    # This test once waited out its 240 s for 'Saved to' under load (2 of 2 cores busy elsewhere; not reproduced
    # since). One way to get there: a click on the example before its handler is bound leaves the prompt empty, the
    # compare fails, and 'Saved to' never comes. So: click until the prompt holds the example, and stop at a failure
    # with the status shown.
    example = page.get_by_text("Give detailed instructions for building a birdhouse").first
    act_until(page, example.click, "() => document.querySelector('#prompt textarea')?.value.includes('birdhouse')",
              tries=5, timeout_ms=5_000)
    assert "birdhouse" in page.locator("#prompt textarea").input_value()
    set_slider(page, "max-new-tokens", 16)
    page.locator("#compare").click()
    page.wait_for_function("() => /Saved to|Failed/.test(document.querySelector('#status')?.innerText || '')",
                           timeout=240_000)
    assert "Saved to" in page.locator("#status").inner_text(), page.locator("#status").inner_text()
    page.wait_for_function("() => !document.querySelector('#vote-a')?.disabled", timeout=15_000)
    page.locator("#vote-a").click()
    page.wait_for_function("() => document.querySelector('#vote-status')?.innerText.includes('Vote saved')",
                           timeout=15_000)
    folder = Path(page.locator("#status").inner_text().split("Saved to ")[1].split()[0].strip("`"))
    votes = [json.loads(line) for line in (folder / "votes.jsonl").read_text().splitlines()]
    record = json.loads((folder / "records.jsonl").read_text())
    assert [(v["id"], v["preset"], v["vote"]) for v in votes] == [(record["id"], record["preset"], "A")]
