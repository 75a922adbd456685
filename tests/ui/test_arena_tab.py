"""The Arena tab's handlers without a browser: refusals reach the page as gr.Error (one line, what to do), a shared
app gives each visitor one battle at a time, and a vote needs a battle and counts once."""
import random
from types import SimpleNamespace

import gradio as gr
import pytest

from arena.battles import Arena
from arena.config import ArenaConfig
from arena.store import ArenaStore
from runs.public import PublicLimits, PublicPolicy, disable_public_mode, enable_public_mode
from ui.arena_tab import battle, cast_vote, next_battle, open_battle_link, poll_reveal

MODELS = ("scripted:first answer", "scripted:second answer")
JUDGE = "scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 3\\nReasons: ok"


@pytest.fixture
def arena(tmp_path):
    config = ArenaConfig(models=MODELS, judge=JUDGE, prompts="both", max_new_tokens=8)
    return Arena(config, ArenaStore.open(tmp_path), rng=random.Random(3))


@pytest.fixture
def shared():
    enable_public_mode(PublicPolicy(models=MODELS, limits=PublicLimits(requests_per_visitor=1),
                                    include_shipped=False))
    yield
    disable_public_mode()  # and the models' limit it set


def visitor(name: str):
    return SimpleNamespace(session_hash=name, query_params={})


def test_a_visitor_gets_one_battle_at_a_time_on_a_shared_app(arena, shared):
    running = battle(arena, "Hello?", visitor("ana"))
    next(running)  # the first update: the battle holds ana's slot
    with pytest.raises(gr.Error, match="already have 1 request"):
        list(battle(arena, "Again?", visitor("ana")))
    assert list(battle(arena, "Hi?", visitor("bo")))[-1][3].startswith("b-")  # another visitor is not held up
    *_, last = running
    assert last[3].startswith("b-")
    assert list(battle(arena, "Again?", visitor("ana")))  # done: ana may battle again


def test_bad_input_and_a_second_vote_are_errors_on_the_page(arena):
    with pytest.raises(gr.Error, match="the instruction is empty"):
        list(battle(arena, "  ", visitor("ana")))
    with pytest.raises(gr.Error, match="Nothing to vote on yet"):
        cast_vote(arena, "A", None)
    *_, last = battle(arena, "Hello?", visitor("ana"))
    battle_id = last[3]
    reveal, waiting, revealed, *buttons = cast_vote(arena, "tie", battle_id)
    assert "scripted:first answer" in reveal and waiting is None and revealed == battle_id
    assert all(b.interactive is False for b in buttons)
    with pytest.raises(gr.Error, match="has its vote already"):
        cast_vote(arena, "A", battle_id)


def test_next_battle_clears_the_page_and_a_link_opens_an_unvoted_battle_for_its_vote(arena):
    *_, last = battle(arena, "Hello?", visitor("ana"))
    battle_id = last[3]
    prompt, a, b, reveal, waiting, revealed, *buttons = next_battle(arena)
    assert (prompt, a, b, waiting, revealed) == ("", "", "", None, None)
    link = SimpleNamespace(session_hash="bo", query_params={"battle": battle_id})
    opened = open_battle_link(arena, link)
    assert opened[0] == "Hello?" and opened[4] == battle_id and opened[5] is None  # votable, names not shown
    assert "scripted:" not in opened[3] and opened[6].interactive is True
    nothing = open_battle_link(arena, SimpleNamespace(session_hash="bo", query_params={}))
    assert all(value == gr.skip() for value in nothing)


def test_the_reveal_is_polled_until_the_judge_is_in_then_the_polling_stops(arena):
    *_, last = battle(arena, "Hello?", visitor("ana"))
    battle_id = last[3]
    cast_vote(arena, "A", battle_id)
    arena.wait_judged(battle_id, timeout=60)
    reveal, still = poll_reveal(arena, battle_id)
    assert "the judge (" in reveal and still is None
    assert poll_reveal(arena, None) == (gr.skip(), gr.skip())
