"""Votes that last: battles and votes written, the app process killed (SIGKILL) and started again on the same folder,
and the leaderboard it serves is the same, number for number, as before the kill."""
import random

from arena_app import JUDGE, MODELS, kill, launch_app, write_pool
from gradio_client import Client

from arena.battles import Arena
from arena.config import load_arena_config
from arena.leaderboard import build_leaderboard, to_dict
from arena.store import ArenaStore


def test_the_leaderboard_is_identical_after_the_app_is_killed_and_started_again(tmp_path):
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
        before = client.predict(api_name="/arena_leaderboard_json")
        # A battle through the app's API, so the app itself has written to the store before it is killed.
        client.predict("One more question?", api_name="/arena_battle")
        text, table = client.predict(api_name="/arena_leaderboard")
        assert "10 battle(s)" in text and len(table["data"]) == len(MODELS)
    finally:
        kill(process)
    assert before == written

    process, url = launch_app(tmp_path, pool=pool)
    try:
        after = Client(url, verbose=False).predict(api_name="/arena_leaderboard_json")
    finally:
        kill(process)
    assert after["battles"] == 10  # the battle the killed app saved is there
    assert {k: v for k, v in after.items() if k != "battles"} == {k: v for k, v in before.items() if k != "battles"}
    assert JUDGE in after["judge"]
