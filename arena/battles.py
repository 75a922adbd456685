"""Blind battles: a pair drawn from the pool so every pair gets battles, sides at random, both answers streamed, the
battle saved, the judge run in the background (it never holds up the vote), and one vote per battle.

The names stay in the store until the vote: what a battle shows before it is the prompt and the two answers.
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from arena.config import ArenaConfig, ArenaError, arena_dir, check_public_pool, load_arena_config
from arena.leaderboard import Leaderboard, build_leaderboard
from arena.store import ArenaStore, BattleState, start_push
from basics import UserFacingError
from models import PRESETS, load_model
from models.backend import Generation
from runs.config import CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import PromptItem
from runs.public import public_gate
from runs.system_prompts import conversation

JUDGE_RUNS = "judge-runs"  # the judge's run folders, inside the arena folder (pushed with it)
MAX_SEED = 2**32 - 2  # llama.cpp's range (0 to 4294967294): the narrowest of the backends'


@dataclass
class BattleUpdate:
    stage: str  # "loading" | "answer_a" | "answer_b" | "done"
    answer_a: str = ""
    answer_b: str = ""
    message: str = ""
    battle_id: str | None = None  # set on "done", when the battle is saved


def pair_counts(states: list[BattleState]) -> Counter:
    """Battles so far per unordered pair of models."""
    return Counter(frozenset((s.battle["model_a"], s.battle["model_b"])) for s in states)


def draw_pair(config: ArenaConfig, states: list[BattleState], rng: random.Random) -> tuple[str, str]:
    """(Model A, Model B): one of the pairs with the fewest battles so far, at random, on random sides. Not by list
    order, so a pool of n models gives every one of its n(n-1)/2 pairs battles before any pair gets a second."""
    counts = pair_counts(states)
    fewest = min(counts[frozenset(pair)] for pair in config.pairs())
    first, second = rng.choice([pair for pair in config.pairs() if counts[frozenset(pair)] == fewest])
    return (first, second) if rng.random() < 0.5 else (second, first)


class Arena:
    """One arena in this process: its pool, its store, and the background thread that judges its battles."""

    def __init__(self, config: ArenaConfig, store: ArenaStore, rng: random.Random | None = None):
        self.config = config
        self.store = store
        self.rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._items = config.set_items()
        # One judge at a time: on a small CPU two judges only slow each other, and the vote never waits for either.
        self._judges = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arena-judge")
        self._pending: dict[str, Future] = {}
        self._board: tuple[int, Leaderboard] | None = None
        self._board_lock = threading.Lock()

    def leaderboard(self) -> Leaderboard:
        """The leaderboard of every battle so far, computed again only when an event was added since."""
        with self._board_lock:
            version = self.store.version
            if self._board is None or self._board[0] != version:
                self._board = (version, build_leaderboard(self.store.states(), notices=self.store.notices))
            return self._board[1]

    def random_prompt(self) -> str:
        if not self._items:
            raise ArenaError("this arena takes visitors' own prompts only: type an instruction")
        with self._rng_lock:
            return self.rng.choice(self._items).prompt

    def prompt_item(self, text: str) -> PromptItem:
        """The instruction to battle on, checked against the prompt source and a shared app's limits."""
        text = (text or "").strip()
        if not text:
            hint = "press Random prompt" if self.config.prompts == "set" else "type an instruction"
            raise ArenaError(f"the instruction is empty: {hint}")
        known = next((item for item in self._items if item.prompt.strip() == text), None)
        if self.config.prompts == "set" and known is None:
            raise ArenaError("this arena battles on its prompt set only: press Random prompt to get one")
        if gate := public_gate():
            gate.policy.check_prompt(text)
        return known or PromptItem(id="visitor", prompt=text)

    def battle(self, text: str) -> Iterator[BattleUpdate]:
        """Stream both answers to `text` from a drawn pair, save the battle, start its judge; the names are not in
        any update."""
        item = self.prompt_item(text)
        with self._rng_lock:
            model_a, model_b = draw_pair(self.config, self.store.states(), self.rng)
            seed = self.rng.randint(0, MAX_SEED)
        if gate := public_gate():  # the pool was checked at start; a pool edited since is checked again
            for spec in (model_a, model_b):
                gate.policy.check_model(spec, "arena model")
        sampling = PRESETS[self.config.preset].with_(max_new_tokens=self.config.max_new_tokens, seed=seed)
        # Not loading_text(): it names the models, and the names stay hidden until the vote.
        yield BattleUpdate("loading", message="Loading the two models (a model's first battle takes longer)…")
        backends = {"A": load_model(model_a), "B": load_model(model_b)}
        made: dict[str, Generation] = {}
        for side in ("A", "B"):
            for partial in backends[side].generate_with_progress(conversation(item.prompt), sampling):
                if isinstance(partial, str):
                    texts = {**{k: g.text for k, g in made.items()}, side: partial}
                    yield BattleUpdate(f"answer_{side.lower()}", texts.get("A", ""), texts.get("B", ""))
                else:
                    made[side] = partial
        state = self.store.add_battle({
            "prompt": item.prompt, "prompt_id": item.id, "model_a": model_a, "model_b": model_b,
            "preset": self.config.preset, "sampling": sampling.to_dict(),
            "answers": {side: _answer(g) for side, g in made.items()}})
        self.judge_later(state)
        yield BattleUpdate("done", made["A"].text, made["B"].text, battle_id=state.id)

    def vote(self, battle_id: str, vote: str) -> BattleState:
        """The battle's one vote; afterwards the battle's names (and the judge's verdict, once in) may be shown."""
        return self.store.add_vote(battle_id, vote)

    def judge_later(self, state: BattleState) -> Future:
        future = self._judges.submit(self._judge, state)
        self._pending[state.id] = future
        # A callback, not a pop at the end of _judge: the judge may finish before the line above has run.
        future.add_done_callback(lambda _: self._pending.pop(state.id, None))
        return future

    def judge_unjudged(self) -> int:
        """Judge the battles a stopped app left without a verdict (at start); how many were queued."""
        waiting = [s for s in self.store.states() if s.judged is None and s.id not in self._pending]
        for state in waiting:
            self.judge_later(state)
        return len(waiting)

    def wait_judged(self, battle_id: str, timeout: float | None = None) -> BattleState:
        """The battle once its judge is done (tests); the app never waits for it."""
        if future := self._pending.get(battle_id):
            future.result(timeout=timeout)
        return self.store.get(battle_id)

    def _judge(self, state: BattleState) -> None:
        try:
            verdict = judge_battle(self.config, self.store, state)
        except Exception as exc:  # kept as the verdict's error: the battle and its vote stand without a judge
            reason = str(exc) if isinstance(exc, UserFacingError) else f"{exc.__class__.__name__}: {exc}"
            verdict = {"judge": self.config.judge, "winner": None, "error": reason}
        self.store.add_verdict(state.id, verdict)


def _answer(generation: Generation) -> dict:
    return {"text": generation.text, "n_tokens": generation.n_tokens, "seconds": round(generation.seconds, 3),
            "finish_reason": generation.finish_reason}


def judge_battle(config: ArenaConfig, store: ArenaStore, state: BattleState) -> dict:
    """The judge's verdict on a saved battle, made as a comparison run on the battle's own answers (a run folder
    under the arena folder's judge-runs/, with the full record: scores, reasons, the trust line's inputs)."""
    battle = state.battle
    sampling = PRESETS[battle["preset"]].with_(**{k: battle["sampling"][k] for k in ("max_new_tokens", "seed")})
    compare = CompareConfig(model_a=battle["model_a"], model_b=battle["model_b"], judge=config.judge,
                            preset=battle["preset"], sampling=sampling, out_dir=str(store.folder / JUDGE_RUNS))
    (store.folder / JUDGE_RUNS).mkdir(exist_ok=True)
    item = PromptItem(id=state.id, prompt=battle["prompt"])
    given = {(item.id, battle["preset"]): {side: Generation(text=a["text"], n_tokens=a["n_tokens"] or 0,
                                                            seconds=a.get("seconds") or 0.0,
                                                            finish_reason=a.get("finish_reason"))
                                           for side, a in battle["answers"].items()}}
    record, run_dir = None, None
    for update in run_compare(compare, [item], label="arena", given_answers=given):
        record = update.record if update.stage == "record" else record
        run_dir = update.run_dir or run_dir
    if record is None:
        raise ArenaError("the judge gave no record")
    return {"judge": config.judge, "winner": record.get("winner"), "totals": record.get("totals"),
            "margin": record.get("margin"), "error": record.get("error"),
            "run": run_dir.name if run_dir else None}


_ARENAS: dict[tuple[str, str], Arena] = {}
_ARENAS_LOCK = threading.Lock()


def open_arena(pool: str | None = None, folder: str | None = None) -> Arena:
    """This process's arena for a pool file and a folder (defaults: $LLM_JUDGE_ARENA_POOL or the shipped pool, and
    arena_dir()), made once: the pool checked against a shared app's allow-list, the store opened (a torn last line
    repaired), pushes started when configured, and battles a stopped app left without a verdict queued for the judge."""
    config = load_arena_config(pool)
    where = str(folder or arena_dir())
    with _ARENAS_LOCK:
        if (config.source, where) not in _ARENAS:
            if gate := public_gate():
                check_public_pool(gate.policy, config)
            store = ArenaStore.open(where)
            start_push(store, config.push)
            arena = Arena(config, store)
            arena.judge_unjudged()
            _ARENAS[(config.source, where)] = arena
        return _ARENAS[(config.source, where)]
