"""A link to a run (?run=NAME) opens the Results tab on that run in a real browser, with the banner above the tabs;
a name that is not a run in the list (a path) leaves the tab as it was."""
import pytest

from run_builders import RUN1, write_run

pytestmark = pytest.mark.browser


def test_a_run_link_opens_the_results_tab_on_that_run(browser, app_url, results_dir):
    linked = write_run(results_dir, "linked-run", "2001-01-01T00:00:00+00:00", RUN1)  # not the newest run
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{app_url}?run={linked.name}")
    page.wait_for_function(
        f"() => document.querySelector('#results-run input')?.value.includes('{linked.name}')", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#results-summary')?.innerText.includes('Win rate')",
                           timeout=30_000)
    assert page.locator("#results-summary").is_visible()  # the Results tab is the one shown
    assert linked.name in page.locator("#link-banner").inner_text()
    page.close()


def test_a_link_naming_a_path_opens_nothing(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{app_url}?run=/etc")
    page.wait_for_function("() => document.querySelector('#link-banner')?.innerText.includes('no run')",
                           timeout=30_000)
    assert "/etc" not in page.locator("#results-run input").input_value()
    page.close()
