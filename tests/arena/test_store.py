"""The arena's store: append-only events read back after a restart, one vote per battle, a line cut by a kill skipped
with a notice (and cut off before the next append), a writer process killed mid-stream losing at most the battle in
flight, and the optional push to a dataset repo configured as huggingface_hub's CommitScheduler expects."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from arena.config import ArenaError, PushSettings
from arena.leaderboard import build_leaderboard, to_dict
from arena.store import EVENTS_FILE, ArenaStore, push_arguments, start_push
from basics import REPO_ROOT


def battle(store: ArenaStore, a="X", b="Y"):
    return store.add_battle({"prompt": "p", "model_a": a, "model_b": b, "preset": "p1",
                             "answers": {"A": {"text": "one"}, "B": {"text": "two"}}})


def test_battles_votes_and_verdicts_come_back_after_a_restart(tmp_path):
    store = ArenaStore.open(tmp_path)
    first, second = battle(store), battle(store, "Y", "Z")
    store.add_vote(first.id, "A")
    store.add_verdict(first.id, {"judge": "j", "winner": "B"})
    again = ArenaStore.open(tmp_path)
    assert [s.id for s in again.states()] == [first.id, second.id]
    assert again.get(first.id).vote["vote"] == "A" and again.get(first.id).judged["winner"] == "B"
    assert again.get(second.id).vote is None and again.notices == []
    assert again.version == 4 == store.version
    assert to_dict(build_leaderboard(store.states())) == to_dict(build_leaderboard(again.states()))


def test_a_battle_takes_one_vote_whoever_sends_it(tmp_path):
    store = ArenaStore.open(tmp_path)
    state = battle(store)
    store.add_vote(state.id, "tie")
    with pytest.raises(ArenaError, match="has its vote already"):
        ArenaStore.open(tmp_path).add_vote(state.id, "A")  # after a restart too: the file knows
    with pytest.raises(ArenaError, match="has its vote already"):
        store.add_vote(state.id, "B")
    lines = (tmp_path / EVENTS_FILE).read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["battle", "vote"]


def test_votes_sent_at_once_on_one_battle_record_one(tmp_path):
    store = ArenaStore.open(tmp_path)
    state = battle(store)
    outcomes = []

    def vote(choice):
        try:
            store.add_vote(state.id, choice)
            outcomes.append("saved")
        except ArenaError:
            outcomes.append("refused")

    threads = [threading.Thread(target=vote, args=(c,)) for c in ("A", "B", "tie", "both_bad") * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("saved") == 1
    assert sum(json.loads(line)["event"] == "vote" for line in (tmp_path / EVENTS_FILE).read_text().splitlines()) == 1


@pytest.mark.parametrize("bad, fix", [("", "not a battle id"), ("../../etc/passwd", "not a battle id"),
                                      ("b-000000000000", "no battle b-000000000000")])
def test_unknown_battles_and_votes_are_refused(tmp_path, bad, fix):
    store = ArenaStore.open(tmp_path)
    with pytest.raises(ArenaError, match=fix):
        store.add_vote(bad, "A")
    with pytest.raises(ArenaError, match="unknown vote 'C'"):
        store.add_vote(battle(store).id, "C")


def test_a_line_cut_mid_write_is_skipped_with_a_notice_and_cut_off_before_the_next_append(tmp_path):
    store = ArenaStore.open(tmp_path)
    kept = battle(store)
    store.add_vote(kept.id, "B")
    path = tmp_path / EVENTS_FILE
    whole = path.read_bytes()
    with open(path, "ab") as f:  # what a kill in the middle of a write leaves: half a line, no newline
        f.write(b'{"event": "battle", "battle": "b-0123456789ab", "prompt": "cut sh')
    again = ArenaStore.open(tmp_path)
    assert [s.id for s in again.states()] == [kept.id]
    assert len(again.notices) == 1 and "cut off mid-write" in again.notices[0]
    assert path.read_bytes() == whole  # cut off, so the next line starts on a line of its own
    battle(again)
    assert len(ArenaStore.open(tmp_path).states()) == 2


def test_a_damaged_line_inside_the_file_is_skipped_and_counted(tmp_path):
    store = ArenaStore.open(tmp_path)
    battle(store)
    with open(tmp_path / EVENTS_FILE, "ab") as f:
        f.write(b"not json\n\xff\xfe\n")
    battle(store)
    again = ArenaStore.open(tmp_path)
    assert len(again.states()) == 2 and "2 unreadable line(s)" in again.notices[0]
    assert build_leaderboard(again.states(), notices=again.notices).notices == again.notices


WRITER = """
import sys
from arena.store import ArenaStore
store = ArenaStore.open(sys.argv[1])
n = 0
while True:
    state = store.add_battle({"prompt": "p" * 2000, "model_a": "XYZ"[n % 3], "model_b": "XYZ"[(n + 1) % 3],
                              "preset": "p1", "answers": {"A": {"text": "a" * 5000}, "B": {"text": "b" * 5000}}})
    store.add_vote(state.id, ("A", "B", "tie", "both_bad")[n % 4])
    n += 1
    print(n, flush=True)
"""


def test_a_writer_killed_mid_stream_loses_at_most_the_battle_in_flight(tmp_path):
    """A process writing battles and votes as fast as it can is SIGKILLed; every vote it reported saved is read
    back, at most one battle more than that, and the leaderboard is the same at every later start."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    deadline = time.monotonic() + 60
    reported = 0
    for line in process.stdout:
        reported = int(line)
        if reported >= 40 or time.monotonic() > deadline:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert reported >= 40, "the writer did not get going"
    store = ArenaStore.open(tmp_path)
    voted = [s for s in store.states() if s.vote]
    assert len(voted) >= reported
    assert len(store.states()) - len(voted) <= 1  # only the battle in flight may lack its vote
    board = to_dict(build_leaderboard(store.states()))
    assert board["votes"] == len(voted)
    assert to_dict(build_leaderboard(ArenaStore.open(tmp_path).states())) == board


def test_the_push_is_a_dataset_commit_scheduler_on_the_arena_folder(tmp_path):
    """Configured only: the push itself needs the network and a token, which this machine does not have, so a stand-in
    class takes the arguments huggingface_hub.CommitScheduler would get, and its lock is held while a line is written.
    The real class's signature is checked to take every argument given."""
    import inspect

    from huggingface_hub import CommitScheduler

    push = PushSettings(repo="my-org/arena-votes", every_minutes=2)
    args = push_arguments(tmp_path, push)
    assert args["repo_id"] == "my-org/arena-votes" and args["repo_type"] == "dataset"
    assert args["folder_path"] == str(tmp_path) and args["every"] == 2 and "token" not in args
    assert set(args) <= set(inspect.signature(CommitScheduler).parameters)

    class StandIn:
        made = []

        def __init__(self, **kwargs):
            self.kwargs, self.lock, self.held = kwargs, self, 0
            StandIn.made.append(self)

        def __enter__(self):
            self.held += 1

        def __exit__(self, *exc):
            return False

    store = ArenaStore.open(tmp_path)
    assert start_push(store, PushSettings(), StandIn) is None and StandIn.made == []
    scheduler = start_push(store, push, StandIn)
    assert scheduler.kwargs == args
    battle(store)
    assert scheduler.held == 1


def test_a_push_that_cannot_start_leaves_the_votes_on_disk_and_says_so(tmp_path):
    def refuses(**kwargs):
        raise OSError("no network")

    store = ArenaStore.open(tmp_path)
    assert start_push(store, PushSettings(repo="my-org/v"), refuses) is None
    assert "not pushed to my-org/v" in store.notices[0] and "HF_TOKEN" in store.notices[0]
    battle(store)
    assert len(ArenaStore.open(tmp_path).states()) == 1


def test_the_real_scheduler_offline_leaves_the_arena_working(tmp_path, monkeypatch):
    """huggingface_hub's own CommitScheduler, offline (this machine has no network: it cannot create the repo): the
    store gets no scheduler, says why, and keeps every vote on disk."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    store = ArenaStore.open(tmp_path)
    assert start_push(store, PushSettings(repo="my-org/arena-votes")) is None and store.scheduler is None
    assert "not pushed to my-org/arena-votes" in store.notices[0]
    store.add_vote(battle(store).id, "A")
    assert ArenaStore.open(tmp_path).states()[0].vote["vote"] == "A"
