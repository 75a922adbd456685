"""`python -m arena`: a pool checked (against the allow-list with --public), the leaderboard printed or exported; bad
input is one line and exit status 2."""
import json
import subprocess
import sys

import pytest

from arena.cli import main
from arena.store import ArenaStore
from basics import REPO_ROOT


@pytest.fixture
def folder(tmp_path):
    store = ArenaStore.open(tmp_path / "arena")
    for n, vote in enumerate(("A", "A", "B", "tie")):
        state = store.add_battle({"prompt": "p", "model_a": "X", "model_b": "Y" if n % 2 else "Z", "preset": "p1",
                                  "answers": {"A": {"text": "a"}, "B": {"text": "b"}}})
        store.add_vote(state.id, vote)
        store.add_verdict(state.id, {"judge": "j", "winner": "A"})
    return tmp_path / "arena"


def test_the_leaderboard_is_printed_with_the_agreement(folder, capsys):
    assert main(["leaderboard", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 votes on 4 battles; judge-crowd agreement 50%")
    assert "Crowd rating" in out and {"X", "Y", "Z"} <= {line.split()[0] for line in out.splitlines()[2:]}


@pytest.mark.parametrize("kind", ["csv", "json", "html"])
def test_the_leaderboard_is_exported(folder, tmp_path, kind, capsys):
    out = tmp_path / f"board.{kind}"
    assert main(["leaderboard", "--dir", str(folder), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text()
    if kind == "json":
        assert json.loads(text)["votes"] == 4


def test_reading_beside_a_running_app_does_not_cut_its_last_line(folder, capsys):
    with open(folder / "battles.jsonl", "ab") as f:
        f.write(b'{"event": "vote", "battle": "b-0000')  # as if the app were writing this line right now
    before = (folder / "battles.jsonl").read_bytes()
    assert main(["leaderboard", "--dir", str(folder)]) == 0
    assert "1 unreadable line(s)" in capsys.readouterr().out
    assert (folder / "battles.jsonl").read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["leaderboard", "--dir", "/no/such/arena"], "holds no battles.jsonl: name an arena folder with --dir"),
    (["leaderboard", "--out", "board.xlsx"], "name a .csv, .json or .html file"),
    (["check", "--pool", "/no/such/pool.yaml"], "cannot read the arena pool /no/such/pool.yaml"),
])
def test_bad_input_is_one_line_and_status_2(folder, args, message):
    if "--out" in args:
        args = [*args, "--dir", str(folder)]
    done = subprocess.run([sys.executable, "-m", "arena", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and message in done.stderr and done.stderr.count("\n") == 1


def test_check_applies_the_public_allow_list(tmp_path, capsys):
    pool = tmp_path / "pool.yaml"
    pool.write_text("models: ['scripted:a', 'scripted:b']\njudge: 'scripted:j'\n")
    assert main(["check", "--pool", str(pool)]) == 0
    assert "2 models (1 pairs)" in capsys.readouterr().out
    assert main(["check", "--pool", str(pool), "--public"]) == 2
    assert "arena model 'scripted:a' is not offered" in capsys.readouterr().err
