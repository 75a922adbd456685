"""The arena's pool file is data checked at load: every mistake is one clear error naming the file and the fix; a
shared app's arena takes allow-listed models only, within its limits."""
import pytest

from arena.config import DEFAULT_POOL_FILE, ArenaError, arena_dir, check_public_pool, load_arena_config
from runs.public import PublicLimits, PublicPolicy


def pool(tmp_path, text: str):
    path = tmp_path / "pool.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_pool_loads():
    config = load_arena_config(DEFAULT_POOL_FILE)
    assert len(config.models) >= 2 and config.prompts == "both" and config.set_items()
    assert not config.push.repo  # nothing is pushed unless the maintainer names a repo


@pytest.mark.parametrize("text, expected", [
    ("models: [scripted:a]", "at least two different models"),
    ("models: [scripted:a, scripted:a]", "at least two different models"),
    ("models: scripted:a", "`models:` must be a list"),
    ("models: [scripted:a, 3]", "`models:` must be a list"),
    ("[1, 2]", "expected a mapping"),
    ("models: [scripted:a, scripted:b]\nmodel: x", "unknown keys model"),
    ("models: [scripted:a, scripted:b]\nprompts: everyone", "`prompts:` must be one of visitor, set, both"),
    ("models: [scripted:a, scripted:b]\npreset: p9", "`preset:` must be one of"),
    ("models: [scripted:a, scripted:b]\nmax_new_tokens: 0", "`max_new_tokens:` must be a whole number"),
    ("models: [scripted:a, scripted:b]\nmax_new_tokens: true", "`max_new_tokens:` must be a whole number"),
    ("models: [scripted:a, scripted:b]\nprompt_set: no-such-set", "prompt_set 'no-such-set'"),
    ("models: [scripted:a, scripted:b]\njudge: ''", "`judge:` must be one model spec"),
    ("models: [scripted:a, scripted:b]\npush: {repo: 'not a repo'}", "push.repo must be a dataset repo id"),
    ("models: [scripted:a, scripted:b]\npush: {repo: a/b, every_minutes: 0}", "push.every_minutes"),
    ("models: [scripted:a, scripted:b]\npush: {repo: a/b, token: hf_x}", "`push:` takes repo"),
    ("models: [scripted:a, 'x+y+z+']", "model 'x+y+z+'"),
    ("models: [a, b\n", "cannot read the arena pool"),
])
def test_a_bad_pool_file_is_named_with_the_fix(tmp_path, text, expected):
    path = pool(tmp_path, text)
    with pytest.raises(ArenaError) as error:
        load_arena_config(path)
    message = str(error.value)
    assert expected in message and str(path) in message and "\n" not in message.strip()


def test_a_missing_pool_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ArenaError, match="LLM_JUDGE_ARENA_POOL"):
        load_arena_config(tmp_path / "none.yaml")


def test_the_pool_file_comes_from_the_environment(tmp_path, monkeypatch):
    path = pool(tmp_path, "models: [scripted:a, scripted:b, scripted:c]\nprompts: visitor\n"
                          "push: {repo: my-org/votes, every_minutes: 2}")
    monkeypatch.setenv("LLM_JUDGE_ARENA_POOL", str(path))
    config = load_arena_config()
    assert config.models == ("scripted:a", "scripted:b", "scripted:c") and config.set_items() == []
    assert sorted(config.pairs()) == [("scripted:a", "scripted:b"), ("scripted:a", "scripted:c"),
                                      ("scripted:b", "scripted:c")]
    assert (config.push.repo, config.push.every_minutes, config.push.private) == ("my-org/votes", 2.0, True)


def test_the_store_folder_is_persistent_storage_when_there_is_some(tmp_path, monkeypatch):
    monkeypatch.delenv("LLM_JUDGE_ARENA_DIR", raising=False)
    monkeypatch.delenv("LLM_JUDGE_RESULTS", raising=False)
    monkeypatch.setenv("LLM_JUDGE_PERSISTENT_DIR", str(tmp_path))
    assert arena_dir() == tmp_path / "results" / "arena"
    monkeypatch.setenv("LLM_JUDGE_ARENA_DIR", str(tmp_path / "elsewhere"))
    assert arena_dir() == tmp_path / "elsewhere"


def policy(*models, max_new_tokens=512) -> PublicPolicy:
    return PublicPolicy(models=models, limits=PublicLimits(max_new_tokens=max_new_tokens), include_shipped=False)


def test_a_shared_apps_arena_takes_allow_listed_models_only(tmp_path):
    config = load_arena_config(pool(tmp_path, "models: [scripted:a, scripted:b]\njudge: scripted:j\n"
                                              "max_new_tokens: 64"))
    check_public_pool(policy("scripted:a", "scripted:b", "scripted:j"), config)
    with pytest.raises(ArenaError, match="arena model 'scripted:b' is not offered.*add the model there"):
        check_public_pool(policy("scripted:a", "scripted:j"), config)
    with pytest.raises(ArenaError, match="arena judge 'scripted:j' is not offered"):
        check_public_pool(policy("scripted:a", "scripted:b"), config)
    with pytest.raises(ArenaError, match="max new tokens 64 is over"):
        check_public_pool(policy("scripted:a", "scripted:b", "scripted:j", max_new_tokens=32), config)


def test_the_shipped_pool_fits_the_shipped_public_allow_list():
    from runs.public import load_public_policy

    check_public_pool(load_public_policy(), load_arena_config(DEFAULT_POOL_FILE))
