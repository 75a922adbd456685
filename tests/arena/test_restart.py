"""Votes that last: battles and votes written, one more battle voted on through the page of the running app, the app
process killed (SIGKILL, as a crash or a Space's restart) and started again on the same folder: the leaderboard it
serves is the same, number for number, as the one it served just before the kill."""
import json
import random

import pytest
from arena_app import JUDGE, MODELS, kill, launch_app, write_pool
from gradio_client import Client
from playwright.sync_api import expect

from arena.battles import Arena
from arena.config import load_arena_config
from arena.leaderboard import build_leaderboard, to_dict
from arena.store import ArenaStore

pytestmark = pytest.mark.browser  # the app's own vote is cast in Chromium (votes are not part of the app's API)


def vote_in_the_page(browser, url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(url)
    page.get_by_role("tab", name="Arena").click()
    page.locator("#arena-prompt textarea").fill("One more question?")
    page.locator("#arena-battle").click()
    expect(page.locator("#arena-vote-b")).to_be_enabled(timeout=60_000)
    page.locator("#arena-vote-b").click()
    expect(page.locator("#arena-reveal")).to_contain_text("the judge (", timeout=60_000)
    page.close()


def test_the_leaderboard_is_identical_after_the_app_is_killed_and_started_again(tmp_path, browser):
    pool = write_pool(tmp_path)
    arena = Arena(load_arena_config(pool), ArenaStore.open(tmp_path / "arena"), rng=random.Random(7))
    for n in range(9):
        battle_id = list(arena.battle(f"Question {n}?"))[-1].battle_id
        arena.wait_judged(battle_id, timeout=60)
        arena.vote(battle_id, ("A", "B", "tie", "both_bad", "A", "A", "B", "A", "tie")[n])
    written = to_dict(build_leaderboard(arena.store.states()))
    assert written["votes"] == 9 and written["judged"] == 9 and len(written["models"]) == len(MODELS)

    process, url = launch_app(tmp_path, pool=pool)
    try:
        client = Client(url, verbose=False)
        assert client.predict(api_name="/arena_leaderboard_json") == written  # read back at start
        vote_in_the_page(browser, url)
        before = client.predict(api_name="/arena_leaderboard_json")
        text, table = client.predict(api_name="/arena_leaderboard")
        assert "10 vote(s)" in text and len(table["data"]) == len(MODELS)
    finally:
        kill(process)
    assert before["votes"] == 10 and before["judged"] == 10

    process, url = launch_app(tmp_path, pool=pool)
    try:
        after = Client(url, verbose=False).predict(api_name="/arena_leaderboard_json")
    finally:
        kill(process)
    assert after == before
    assert JUDGE in after["judge"]
    lines = (tmp_path / "arena" / "battles.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines].count("vote") == 10
