"""A blind battle in a real browser (Debian's Chromium): the models' names appear nowhere on the page until the vote,
then they and the judge's verdict do; the vote is recorded once; a link to the battle opens it again, revealed. The
pool is scripted models (instant answers), in an app process of its own."""
import json
import time

import pytest
from arena_app import MODELS, kill, launch_app
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def arena_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arena-browser")
    process, url = launch_app(folder)
    yield url, folder
    kill(process)


def arena_text(page) -> str:
    return page.locator("#tab-arena").inner_text()


def votes_in(folder) -> list[dict]:
    lines = (folder / "arena" / "battles.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "vote"]


def test_a_blind_battle_reveals_the_names_only_after_the_one_vote(browser, arena_app):
    url, folder = arena_app
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(url)
    page.get_by_role("tab", name="Arena").click()
    tabs = page.get_by_role("tab").all_inner_texts()
    assert sorted(tabs) == sorted(set(tabs)) and "Arena" in tabs  # one button per tab, none drawn twice
    page.locator("#arena-prompt textarea").fill("Name a fruit.")
    expect(page.locator("#arena-vote-a")).to_be_disabled()  # nothing to vote on yet
    # Every state the page passes through while the answers stream, not only the last one, must keep the names out.
    page.evaluate("""() => { window.namesSeen = [];
        new MutationObserver(() => { const text = document.body.innerText;
            if (text.includes('scripted:')) window.namesSeen.push(text.substr(text.indexOf('scripted:'), 80)); })
          .observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    page.locator("#arena-battle").click()
    expect(page.locator("#arena-vote-a")).to_be_enabled(timeout=60_000)
    assert page.evaluate("() => window.namesSeen") == []
    answers = {page.locator(f"#arena-answer-{side} textarea").input_value() for side in "ab"}
    assert answers <= {m.removeprefix("scripted:") for m in MODELS} and len(answers) == 2
    before = arena_text(page)
    assert "scripted:" not in before and "Model A** was" not in before
    assert "scripted:" not in page.locator("body").inner_text()  # nowhere on the page, not only in the tab

    page.locator("#arena-vote-a").click()
    reveal = page.locator("#arena-reveal")
    expect(reveal).to_contain_text("Model A was", timeout=30_000)
    shown = reveal.inner_text()
    named = [m for m in MODELS if m in shown]
    assert len(named) == 2 and "A is better" in shown
    expect(page.locator("#arena-vote-b")).to_be_disabled()
    page.locator("#arena-vote-b").click(force=True)  # a disabled button: nothing is sent
    expect(reveal).to_contain_text("the judge (", timeout=30_000)  # polled in: the judge ran in the background
    expect(page.locator("#arena-board-text")).to_contain_text("1 vote(s)", timeout=30_000)
    (vote,) = votes_in(folder)
    assert vote["vote"] == "A"
    battle_id = vote["battle"]
    assert battle_id in shown
    page.locator("#arena-export-csv").click()
    expect(page.locator("#arena-download")).to_contain_text(".csv", timeout=30_000)

    linked = browser.new_page(viewport={"width": 1400, "height": 1600})
    linked.goto(f"{url}?battle={battle_id}")
    expect(linked.locator("#arena-reveal")).to_contain_text("Model A was", timeout=30_000)
    expect(linked.get_by_role("tab", name="Arena")).to_have_attribute("aria-selected", "true")  # opened on it
    assert all(m in linked.locator("#arena-reveal").inner_text() for m in named)
    expect(linked.locator("#arena-vote-a")).to_be_disabled()
    assert linked.locator("#arena-answer-a textarea").input_value() in answers
    linked.close()

    page.locator("#arena-next").click()
    expect(page.locator("#arena-answer-a textarea")).to_have_value("", timeout=15_000)
    expect(page.locator("#arena-vote-a")).to_be_disabled()
    assert "scripted:" not in page.locator("#arena-reveal").inner_text()
    assert len(votes_in(folder)) == 1
    page.close()


def test_a_link_to_an_unknown_battle_says_so(browser, arena_app):
    url, _ = arena_app
    page = browser.new_page()
    page.goto(f"{url}?battle=b-000000000000")
    expect(page.get_by_text("no battle b-000000000000")).to_be_visible(timeout=30_000)
    page.close()


def test_a_link_opens_a_run_and_never_a_server_path(browser, arena_app):
    """?run=NAME shows the run's headline above the tabs (here the judge's run of a battle, as its reveal links it);
    a path is refused by its text alone."""
    url, folder = arena_app
    runs = folder / "arena" / "judge-runs"
    if not runs.is_dir():  # the battle test ran on another worker (xdist): one battle through the app's API instead
        from gradio_client import Client

        Client(url, verbose=False).predict("Name a fruit.", api_name="/arena_battle")
        deadline = time.monotonic() + 60  # the judge reads the battle after it, in the background
        while not (runs.is_dir() and any(runs.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.2)
    (run,) = [p.name for p in runs.iterdir()]
    page = browser.new_page()
    page.goto(f"{url}?run={run}")
    banner = page.locator("#link-banner")
    expect(banner).to_contain_text(f"Linked run {run}", timeout=30_000)
    expect(banner).to_contain_text("Win rate of A")
    page.goto(f"{url}?run=../../etc")
    expect(page.locator("#link-banner")).to_contain_text("no run '../../etc' here", timeout=30_000)
    page.close()
