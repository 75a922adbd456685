"""Fuzzed arena inputs: a pool file of any YAML (field types included) ends in a config or one ArenaError line, and
an events file of any bytes is read back without an error, its unreadable lines counted, never a crash at start."""
import json
from datetime import timedelta

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.config import ArenaConfig, ArenaError, load_arena_config
from arena.store import EVENTS_FILE, ArenaStore


def fuzz(examples: int) -> settings:
    """As tests/fuzz/fuzz_settings.py: the same derandomized examples on every run, no example database."""
    return settings(max_examples=examples, deadline=timedelta(seconds=2), derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-arena")


values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(allow_nan=False), st.text(max_size=20),
                   st.lists(st.text(max_size=12), max_size=4), st.dictionaries(st.text(max_size=8),
                                                                                st.text(max_size=8), max_size=3))
keys = st.sampled_from(["models", "judge", "prompts", "prompt_set", "preset", "max_new_tokens", "push", "other"])


@fuzz(100)
@given(fields=st.dictionaries(keys, values, max_size=6))
def test_a_pool_of_any_field_types_ends_in_a_config_or_one_arena_error(folder, fields):
    path = folder / "pool.yaml"
    path.write_text(yaml.safe_dump(fields, allow_unicode=True), encoding="utf-8")
    try:
        config = load_arena_config(path)
    except ArenaError as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip() and str(path) in str(exc)
        return
    assert isinstance(config, ArenaConfig) and len(config.models) >= 2


@fuzz(100)
@given(data=st.binary(max_size=400), whole=st.integers(0, 3))
def test_an_events_file_of_any_bytes_opens(folder, data, whole):
    arena = folder / "store"
    arena.mkdir(exist_ok=True)
    event = {"event": "battle", "battle": "b-0123456789ab", "model_a": "x", "model_b": "y",
             "answers": {"A": {"text": "a"}, "B": {"text": "b"}}}
    (arena / EVENTS_FILE).write_bytes((json.dumps(event) + "\n").encode() * whole + data)
    store = ArenaStore.open(arena)
    assert len(store.states()) <= 1 + data.count(b"\n")
    assert store.path.read_bytes().endswith(b"\n") or not store.path.read_bytes()  # safe to append to
