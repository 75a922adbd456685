"""Damaged caches of a run heal instead of failing it: the judge call cache (runs/judge_cache.py) set aside and started
afresh, an entry of the wrong form asked again, the model file hash cache (runs/fingerprints.py) rebuilt; each said
once per process (basics.cache_rebuilt)."""
import hashlib
import json
import sqlite3

import pytest

import basics
from basics import UserFacingError, take_cache_notices
from models import SamplingSettings, load_model
from models.registry import unload_all
from runs import fingerprints
from runs.cli import main
from runs.judge_cache import CachedJudge, JudgeCallCache, cache_path, call_key

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: clear"
SETTINGS = SamplingSettings(temperature=0.0, max_new_tokens=8)
ASKED = [{"role": "user", "content": "grade this"}]


@pytest.fixture(autouse=True)
def fresh(monkeypatch, tmp_path):
    """A results folder and model cache of the test's own, a process that has said no cache notice yet, and scripted
    models from their first reply."""
    monkeypatch.setattr(basics, "_cache_notices", {})
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("LLM_JUDGE_CACHE", str(tmp_path / "cache"))
    unload_all()
    yield
    unload_all()


def test_a_run_over_a_garbage_judge_cache_completes_and_says_so_once(tmp_path, capsys):
    cache = cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"a few bytes of garbage")
    prompts = tmp_path / "two.jsonl"
    prompts.write_text('{"id": "a", "prompt": "Hi?"}\n{"id": "b", "prompt": "Bye?"}\n', encoding="utf-8")
    code = main(["compare", "--model-a", "scripted:Answer A", "--model-b", "scripted:Answer B", "--judge", JUDGE,
                 "--prompts", str(prompts)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.count("the judge cache") == 1 and "was damaged" in err
    assert "[2/2]" in err  # both prompts judged
    with sqlite3.connect(cache) as db:  # a working database in its place, the garbage kept beside it
        assert db.execute("SELECT count(*) FROM calls").fetchone() == (0,)
    assert cache.with_name(cache.name + ".damaged").read_bytes() == b"a few bytes of garbage"


def test_a_garbage_database_is_set_aside_and_said_damaged_once_per_process(tmp_path):
    path = tmp_path / "calls.sqlite"
    path.write_bytes(b"\x00not a database" * 10)
    cache = JudgeCallCache(path)
    cache.put("k", {"text": "4"})
    assert cache.get("k") == {"text": "4"}
    (notice,) = take_cache_notices()
    assert "was damaged" in notice and str(path) in notice
    path.write_bytes(b"garbage again")
    assert JudgeCallCache(path).get("k") is None and take_cache_notices() == []  # healed again, not said again
    folder = tmp_path / "a folder"  # cannot be opened: not damage, so an error, and nothing is moved
    folder.mkdir()
    with pytest.raises(UserFacingError, match="cannot use the judge cache .*a folder.* or turn the judge cache off"):
        JudgeCallCache(folder)
    assert folder.is_dir() and not (tmp_path / "a folder.damaged").exists()


@pytest.mark.parametrize("damage", ["truncate", "scribble"])
def test_a_database_damaged_while_in_use_heals_on_its_next_call(tmp_path, damage):
    path = tmp_path / "calls.sqlite"
    cache = JudgeCallCache(path)
    with sqlite3.connect(path) as db:  # pages enough that damage past the first one is met only by a lookup
        db.executemany("INSERT INTO calls VALUES (?, ?)", [(f"k{i:04d}", '"' + "x" * 200 + '"') for i in range(400)])
    assert cache.get("k0399") == "x" * 200
    data = bytearray(path.read_bytes())
    data = data[: len(data) // 2] if damage == "truncate" else data[:4096] + bytes(len(data) - 4096)
    path.write_bytes(bytes(data))
    assert cache.get("k0399") is None  # the damage found: a fresh database, so not there
    cache.put("k0399", "again")
    assert cache.get("k0399") == "again" and len(take_cache_notices()) == 1


@pytest.mark.parametrize("stored", ["{not json", json.dumps({"wrong": "form"}), json.dumps([1, 2])])
def test_an_entry_of_the_wrong_form_is_asked_afresh_and_written_again(tmp_path, stored):
    judge = load_model("scripted:Relevance: 4")
    cached = CachedJudge(judge, JudgeCallCache(tmp_path / "calls.sqlite"))
    key = call_key(cached.identity, "score", ASKED, SETTINGS, None)
    with sqlite3.connect(tmp_path / "calls.sqlite") as db:
        db.execute("INSERT INTO calls VALUES (?, ?)", (key, stored))
    assert cached.score(ASKED, SETTINGS).text == "Relevance: 4"
    assert (cached.stats.hits, cached.stats.misses) == (0, 1)
    assert cached.cache.get(key)["text"] == "Relevance: 4"  # overwritten with the judge's own reply
    assert cached.score(ASKED, SETTINGS).text == "Relevance: 4" and cached.stats.hits == 1
    (notice,) = take_cache_notices()
    assert "damaged entry of the judge cache" in notice


def test_a_garbage_or_wrong_file_hash_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprints, "ALWAYS_HASHED", 0)  # so this small file's hash goes through the cache
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"weights" * 1000)
    truth = hashlib.sha256(weights.read_bytes()).hexdigest()
    hashes = tmp_path / "cache" / fingerprints.HASH_CACHE
    hashes.parent.mkdir(parents=True)
    hashes.write_bytes(b'{"cut short')
    assert fingerprints.fingerprint(weights, "base")["sha256"] == truth
    stored = json.loads(hashes.read_text())
    assert list(stored.values()) == [truth]
    hashes.write_text(json.dumps(dict.fromkeys(stored, "not a hash")))  # never copied into run.json
    assert fingerprints.fingerprint(weights, "base")["sha256"] == truth
    assert list(json.loads(hashes.read_text()).values()) == [truth]
    assert len(take_cache_notices()) == 1
    assert sorted(p.name for p in hashes.parent.iterdir()) == [fingerprints.HASH_CACHE]  # no temporary file left
