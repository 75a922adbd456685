"""Blind battles on scripted models (instant, known replies): pairs drawn so every pair gets battles, sides at random,
no name in anything shown before the vote, the judge's verdict written in the background, one vote per battle, the
prompt source and a shared app's limits applied. One battle on the real embedded model (llama.cpp) at the end."""
import random
from collections import Counter

import pytest

from arena.battles import Arena, draw_pair, open_arena
from arena.config import ArenaConfig, ArenaError, load_arena_config
from arena.store import ArenaStore
from runs.public import PublicLimits, PublicModeError, PublicPolicy, disable_public_mode, enable_public_mode

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: clear||" \
        "Relevance: 2\\nCoherence: 2\\nCompleteness: 1\\nReasons: vague"
POOL = ("scripted:Reply of alpha", "scripted:Reply of beta", "scripted:Reply of gamma", "scripted:Reply of delta")


def arena_of(tmp_path, prompts="both", models=POOL, judge=JUDGE, seed=1) -> Arena:
    config = ArenaConfig(models=models, judge=judge, prompts=prompts, max_new_tokens=16)
    return Arena(config, ArenaStore.open(tmp_path / "arena"), rng=random.Random(seed))


def finish(updates) -> list:
    return list(updates)


@pytest.fixture
def public_off():
    yield
    disable_public_mode()  # and the models' limit it set


def test_every_pair_gets_a_battle_before_any_pair_gets_a_second(tmp_path):
    arena = arena_of(tmp_path)
    pairs, sides = [], Counter()
    for _ in range(12):  # 4 models: 6 pairs, twice each
        updates = finish(arena.battle("Say hello."))
        state = arena.store.get(updates[-1].battle_id)
        pairs.append(frozenset((state.battle["model_a"], state.battle["model_b"])))
        sides[state.battle["model_a"]] += 1
    assert len(set(pairs[:6])) == 6 and Counter(pairs).most_common(1)[0][1] == 2
    assert len(sides) >= 3  # sides are drawn too: not always the pool's first model on A


def test_draw_pair_does_not_follow_the_list_order():
    config = ArenaConfig(models=POOL)
    firsts = {draw_pair(config, [], random.Random(seed)) for seed in range(40)}
    assert len({frozenset(p) for p in firsts}) == 6 and len(firsts) > 6  # any pair, either side


def test_nothing_shown_before_the_vote_names_a_model_and_the_judge_runs_in_the_background(tmp_path):
    # A judge of its own: a scripted judge gives its replies in turn, and other tests' calls must not shift them.
    arena = arena_of(tmp_path, judge=JUDGE.replace("clear", "clear (names test)"))
    updates = finish(arena.battle("Name a colour."))
    shown = " ".join(f"{u.stage} {u.answer_a} {u.answer_b} {u.message}" for u in updates)
    assert "scripted:" not in shown
    assert [u.stage for u in updates][0] == "loading" and updates[-1].stage == "done"
    state = arena.store.get(updates[-1].battle_id)
    assert {updates[-1].answer_a, updates[-1].answer_b} <= {m.removeprefix("scripted:") for m in POOL}
    assert state.battle["answers"]["A"]["text"] == updates[-1].answer_a
    judged = arena.wait_judged(state.id, timeout=60).judged
    assert judged["winner"] == "A" and judged["totals"] == {"A": 11.0, "B": 5.0}
    assert (arena.store.folder / "judge-runs" / judged["run"] / "records.jsonl").is_file()
    voted = arena.vote(state.id, "B")
    assert voted.vote["vote"] == "B"
    with pytest.raises(ArenaError, match="has its vote already"):
        arena.vote(state.id, "A")
    board = arena.leaderboard()
    assert board.votes == 1 and board.judged == 1 and board.agreement.agreement == 0.0
    assert arena.leaderboard() is board  # nothing new: not computed again


def test_a_judge_that_fails_leaves_the_battle_and_its_vote_standing(tmp_path):
    arena = arena_of(tmp_path, judge="scripted:no scores here")
    battle_id = finish(arena.battle("Hi"))[-1].battle_id
    arena.vote(battle_id, "A")
    judged = arena.wait_judged(battle_id, timeout=60).judged
    assert judged["winner"] is None
    board = arena.leaderboard()
    assert board.votes == 1 and board.judged == 0


def test_battles_a_stopped_app_left_unjudged_are_judged_at_the_next_start(tmp_path):
    store = ArenaStore.open(tmp_path / "arena")
    store.add_battle({"prompt": "p", "prompt_id": "visitor", "model_a": POOL[0], "model_b": POOL[1], "preset": "p1",
                      "sampling": {"max_new_tokens": 16, "seed": 3},
                      "answers": {"A": {"text": "one", "n_tokens": 1}, "B": {"text": "two", "n_tokens": 1}}})
    arena = arena_of(tmp_path, judge=JUDGE.replace("clear", "clear (restart test)"))
    assert arena.judge_unjudged() == 1
    (state,) = arena.store.states()
    assert arena.wait_judged(state.id, timeout=60).judged["winner"] == "A"
    assert arena.judge_unjudged() == 0


@pytest.mark.parametrize("prompts, text, error", [
    ("both", "   ", "the instruction is empty: type an instruction"),
    ("set", "", "press Random prompt"),
    ("set", "My own question?", "battles on its prompt set only"),
])
def test_the_prompt_source_is_applied(tmp_path, prompts, text, error):
    with pytest.raises(ArenaError, match=error):
        finish(arena_of(tmp_path, prompts=prompts).battle(text))


def test_prompts_from_the_set_and_visitors_only(tmp_path):
    arena = arena_of(tmp_path, prompts="set")
    prompt = arena.random_prompt()
    battle_id = finish(arena.battle(prompt))[-1].battle_id
    assert arena.store.get(battle_id).battle["prompt_id"].startswith("study")
    with pytest.raises(ArenaError, match="visitors' own prompts only"):
        arena_of(tmp_path, prompts="visitor").random_prompt()


def test_a_shared_app_applies_its_limits_to_the_arena(tmp_path, public_off):
    enable_public_mode(PublicPolicy(models=POOL[:2], limits=PublicLimits(prompt_chars=20), include_shipped=False))
    arena = arena_of(tmp_path, models=POOL[:2])
    with pytest.raises(PublicModeError, match="this shared app takes at most 20"):
        finish(arena.battle("x" * 21))
    assert finish(arena.battle("short"))[-1].battle_id
    pool = tmp_path / "pool.yaml"
    pool.write_text(f"models: ['{POOL[0]}', '{POOL[2]}']\njudge: '{POOL[0]}'\n")
    with pytest.raises(ArenaError, match="'scripted:Reply of gamma' is not offered"):
        open_arena(str(pool), str(tmp_path / "other"))


def test_open_arena_is_made_once_per_pool_and_folder(tmp_path):
    pool = tmp_path / "pool.yaml"
    pool.write_text(f"models: ['{POOL[0]}', '{POOL[1]}']\njudge: '{JUDGE}'\nprompts: visitor\n")
    first = open_arena(str(pool), str(tmp_path / "a"))
    assert open_arena(str(pool), str(tmp_path / "a")) is first
    assert open_arena(str(pool), str(tmp_path / "b")) is not first
    assert first.config == load_arena_config(pool)


@pytest.mark.model
def test_a_battle_on_the_real_embedded_model(tmp_path, gguf):
    """llama.cpp's SmolLM2-135M against its float32 twin, judged by the embedded model writing replies: the answers
    stream, the battle is saved, the judge reaches a verdict (or says why not), the vote is recorded once."""
    arena = arena_of(tmp_path, models=("smollm2-135m-gguf", "smollm2-135m-f32-gguf"), judge="smollm2-135m-gguf")
    updates = finish(arena.battle("Give one tip for sleeping well."))
    assert any(u.stage == "answer_a" for u in updates) and any(u.stage == "answer_b" for u in updates)
    final = updates[-1]
    assert final.answer_a.strip() and final.answer_b.strip()
    assert "smollm2" not in " ".join(u.message for u in updates)
    state = arena.wait_judged(final.battle_id, timeout=600)
    assert state.judged["judge"] == "smollm2-135m-gguf"
    assert state.judged["winner"] in ("A", "B", "tie") or state.judged["error"]
    arena.vote(final.battle_id, "tie")
    board = arena.leaderboard()
    assert board.votes == 1 and {r.model for r in board.rows} == {"smollm2-135m-gguf", "smollm2-135m-f32-gguf"}


def test_the_vote_never_waits_for_the_judge(tmp_path, monkeypatch):
    """A judge held up (here by an event the test sets) does not hold up the battle's end or its vote; the reveal
    says the judge is still working, and its verdict lands when it finishes."""
    import threading

    import arena.battles as battles
    from arena.views import reveal_markdown

    release = threading.Event()

    def slow_judge(config, store, state):
        assert release.wait(30), "the test never released the judge"
        return {"judge": config.judge, "winner": "B", "totals": {"A": 1.0, "B": 2.0}}

    monkeypatch.setattr(battles, "judge_battle", slow_judge)
    arena = arena_of(tmp_path)
    battle_id = finish(arena.battle("Hello?"))[-1].battle_id
    state = arena.vote(battle_id, "A")
    assert state.judged is None and "still working" in reveal_markdown(state)
    release.set()
    assert arena.wait_judged(battle_id, timeout=30).judged["winner"] == "B"
    assert "disagrees" in reveal_markdown(arena.store.get(battle_id))
