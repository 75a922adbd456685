"""The arena's store: one append-only JSON-lines file of events (a battle, its vote, the judge's verdict), kept as the
run store keeps records: each line flushed and fsynced as it is written, a line cut by a kill skipped with a notice
and cut off before the next append, so a crash loses at most the battle in flight.

Optionally the folder is pushed in batches to a Hugging Face dataset repo by huggingface_hub's CommitScheduler; writes
hold the scheduler's lock so a commit never takes half a line.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from analysis.agreement import VOTES
from arena.config import ArenaError, PushSettings
from basics import now_iso

EVENTS_FILE = "battles.jsonl"
BATTLE_ID = re.compile(r"b-[0-9a-f]{12}")
EVENT_KINDS = ("battle", "vote", "judged")


@dataclass
class BattleState:
    """One battle as the events tell it: the battle itself, then its vote and the judge's verdict when they come."""

    battle: dict
    vote: dict | None = None
    judged: dict | None = None

    @property
    def id(self) -> str:
        return self.battle["battle"]


@dataclass
class ArenaStore:
    """The events file in `folder`; one instance per process serves every visitor (its lock orders their writes)."""

    folder: Path
    notices: list[str] = field(default_factory=list)  # what was repaired or skipped while reading, said once
    scheduler: object | None = None  # a CommitScheduler pushing the folder, when configured
    version: int = 0  # events read and written so far: a leaderboard computed at this version is still current
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _states: dict[str, BattleState] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: str | Path, repair: bool = True) -> ArenaStore:
        """The store in `folder` (made if missing), with every complete event read back. `repair=False` only reads
        (a reader beside a running app must not cut off the line the app is writing)."""
        store = cls(Path(folder))
        if repair:
            store.folder.mkdir(parents=True, exist_ok=True)
            store.notices = repair_events(store.path)
        events = read_events(store.path, store.notices)
        store._states, store.version = states_from_events(events), len(events)
        return store

    @property
    def path(self) -> Path:
        return self.folder / EVENTS_FILE

    def states(self) -> list[BattleState]:
        """Every battle, oldest first."""
        with self._lock:
            return list(self._states.values())

    def get(self, battle_id: str) -> BattleState:
        if not BATTLE_ID.fullmatch(str(battle_id or "")):
            raise ArenaError(f"{str(battle_id)[:40]!r} is not a battle id (b- and 12 hex digits): check the link")
        with self._lock:
            state = self._states.get(battle_id)
        if state is None:
            raise ArenaError(f"no battle {battle_id} in this arena: the link may be from another app")
        return state

    def add_battle(self, fields: dict) -> BattleState:
        """A finished battle (both answers made), under a new id."""
        event = {"event": "battle", "battle": f"b-{secrets.token_hex(6)}", "time": now_iso(), **fields}
        with self._lock:
            self._append(event)
            state = self._states[event["battle"]] = BattleState(event)
        return state

    def add_vote(self, battle_id: str, vote: str) -> BattleState:
        """The battle's one vote: a second one is refused, whoever sends it."""
        if vote not in VOTES:
            raise ArenaError(f"unknown vote {vote!r}: the votes are {', '.join(VOTES)}")
        state = self.get(battle_id)
        with self._lock:
            if state.vote is not None:
                raise ArenaError("this battle has its vote already: press Next battle for a new one")
            state.vote = {"event": "vote", "battle": battle_id, "vote": vote, "time": now_iso()}
            try:
                self._append(state.vote)
            except BaseException:
                state.vote = None
                raise
        return state

    def add_verdict(self, battle_id: str, verdict: dict) -> BattleState:
        """The judge's verdict on a battle (or why there is none: `error`)."""
        state = self.get(battle_id)
        event = {"event": "judged", "battle": battle_id, "time": now_iso(), **verdict}
        with self._lock:
            self._append(event)
            state.judged = event
        return state

    def _append(self, event: dict) -> None:
        line = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        # One write of the whole line, then fsync: a kill leaves the line whole or cut, never two glued together.
        with getattr(self.scheduler, "lock", None) or contextlib.nullcontext():
            with open(self.path, "ab") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        self.version += 1


def repair_events(path: Path) -> list[str]:
    """Make the events file safe to append to: a last line cut mid-write is cut off (its battle is lost, no other),
    with a notice; a whole last line that lost its newline gets it back."""
    if not path.is_file():
        path.touch()
        return []
    raw = path.read_bytes()
    if not raw or raw.endswith(b"\n"):
        return []
    cut = raw.rfind(b"\n") + 1
    tail = raw[cut:]
    if _event(tail) is not None:
        with open(path, "ab") as f:
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
        return []
    os.truncate(path, cut)
    return [f"the last line of {path} was cut off mid-write (the app was stopped while saving; {len(tail)} bytes): "
            "it was dropped, and with it at most one battle or vote"]


def _event(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) and value.get("event") in EVENT_KINDS else None


def read_events(path: str | Path, notices: list[str] | None = None) -> list[dict]:
    """Every complete event, in the order written; an unreadable line is skipped and counted in `notices`."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    events, skipped = [], 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        value = _event(line)
        if value is None:
            skipped += 1
        else:
            events.append(value)
    if skipped and notices is not None:
        notices.append(f"{skipped} unreadable line(s) in {path} were skipped (cut off by a crash, or edited by hand)")
    return events


def states_from_events(events: list[dict]) -> dict[str, BattleState]:
    """Battles by id in the order they began; a vote or verdict of an unknown battle is ignored, and only a battle's
    first vote counts (the store refuses a second; a hand-edited file could still hold one)."""
    states: dict[str, BattleState] = {}
    for event in events:
        battle_id = event.get("battle")
        if event["event"] == "battle" and battle_id not in states:
            states[battle_id] = BattleState(event)
        elif battle_id in states and event["event"] == "vote" and states[battle_id].vote is None \
                and event.get("vote") in VOTES:
            states[battle_id].vote = event
        elif battle_id in states and event["event"] == "judged":
            states[battle_id].judged = event
    return states


def push_arguments(folder: Path, push: PushSettings) -> dict:
    """CommitScheduler's arguments for the arena folder: a dataset repo, the battles under arena/, the token left
    to huggingface_hub ($HF_TOKEN, or a login), so none is ever written here."""
    return {"repo_id": push.repo, "repo_type": "dataset", "folder_path": str(folder), "path_in_repo": "arena",
            "every": push.every_minutes, "private": push.private, "allow_patterns": [EVENTS_FILE, "judge-runs/**"]}


def start_push(store: ArenaStore, push: PushSettings, scheduler_class=None) -> object | None:
    """Start pushing the store's folder in batches when `push.repo` is set; None otherwise. The scheduler commits in
    a background thread every `every_minutes` and once more when the process exits."""
    if not push.repo:
        return None
    if scheduler_class is None:
        from huggingface_hub import CommitScheduler as scheduler_class
    try:
        store.scheduler = scheduler_class(**push_arguments(store.folder, push))
    except Exception as exc:  # no network, no token, no rights: the arena still works and keeps its votes on disk
        store.notices.append(f"votes are not pushed to {push.repo} ({exc.__class__.__name__}: {exc}); they stay in "
                             f"{store.folder}: check $HF_TOKEN and the repo")
        return None
    return store.scheduler
