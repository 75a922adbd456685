"""Price tables and cost estimates (runs/costs.py), the judge call cache (runs/judge_cache.py), and a retried
record superseding its failed one."""
import pytest

from basics import UserFacingError
from models import SamplingSettings, load_model
from runs.config import CompareConfig
from runs.costs import Price, cost_of, estimate_run_tokens, load_price_table, price_of
from runs.judge_cache import CachedJudge, JudgeCallCache, cached_judges
from runs.records import normalize_records

from run_builders import make_record

SERVED = "openai:gpt-4o@https://api.openai.com/v1"


def test_the_shipped_price_table_loads_and_prefixes_match(tmp_path):
    table = load_price_table()
    assert isinstance(table["gpt-4o"], Price)
    assert price_of(SERVED, {"gpt-4*": Price(1, 2), "gpt-4o*": Price(3, 4)}) == Price(3, 4)  # longest prefix
    assert price_of("smollm2-135m-gguf", table) is None  # local models cost nothing here
    bad = tmp_path / "prices.yaml"
    bad.write_text("models:\n  m: {input: cheap}\n")
    with pytest.raises(UserFacingError, match="entry 'm' needs numbers 'input' and 'output'"):
        load_price_table(bad)


def test_an_estimate_is_priced_per_served_role():
    config = CompareConfig(judge=SERVED, mode="pairwise")
    usage = estimate_run_tokens(config, "x" * 400, ["y" * 40, "z" * 40])
    judge_calls = 2 * 2  # two prompts, both orders
    assert usage[SERVED]["output"] == judge_calls * config.judge_sampling.max_new_tokens
    assert usage["A"]["output"] == 2 * config.sampling.max_new_tokens
    cost = cost_of(usage, config, {"gpt-4o": Price(input=2.5, output=10.0)})
    judge = usage[SERVED]
    assert cost["dollars"] == pytest.approx((judge["input"] * 2.5 + judge["output"] * 10.0) / 1e6, abs=1e-6)
    assert cost["by_role"]["A"]["dollars"] is None  # a local model


def test_identical_judge_calls_are_answered_from_the_cache(tmp_path):
    judge = load_model("scripted:Relevance: 4||Relevance: 1")
    cached = CachedJudge(judge, JudgeCallCache(tmp_path / "calls.sqlite"))
    settings = SamplingSettings(temperature=0.0, max_new_tokens=8)
    asked = [{"role": "user", "content": "grade this"}]
    first = cached.score(asked, settings)
    again = cached.score(asked, settings)
    other = cached.score([{"role": "user", "content": "grade that"}], settings)
    assert first.text == again.text == "Relevance: 4" and other.text == "Relevance: 1"
    assert (cached.stats.hits, cached.stats.misses) == (1, 2)
    reopened = CachedJudge(judge, JudgeCallCache(tmp_path / "calls.sqlite"))  # on disk: a new process reuses it
    assert reopened.score(asked, settings).text == "Relevance: 4" and reopened.stats.hits == 1
    cached.score(asked, settings.with_(seed=1))  # other settings: another call
    assert cached.stats.misses == 3


def test_a_judge_whose_files_changed_is_asked_again(tmp_path):
    """A head or adapter retrained in its folder keeps its spec; the cache must not answer for the old one."""
    replies = tmp_path / "judge.json"
    replies.write_text('["Relevance: 4", "Relevance: 2"]')
    spec = f"scripted:@{replies}"
    settings, asked = SamplingSettings(temperature=0.0, max_new_tokens=8), [{"role": "user", "content": "grade"}]
    cached = CachedJudge(load_model(spec), JudgeCallCache(tmp_path / "calls.sqlite"))
    cached.score(asked, settings)
    same = CachedJudge(load_model(spec), JudgeCallCache(tmp_path / "calls.sqlite"))
    same.score(asked, settings)
    assert same.stats.hits == 1  # unchanged files: answered from the cache
    replies.write_text('["Relevance: 1"]')  # "retrained" in place
    changed = CachedJudge(load_model(spec), JudgeCallCache(tmp_path / "calls.sqlite"))
    changed.score(asked, settings)
    assert (changed.stats.hits, changed.stats.misses) == (0, 1)


def test_scripted_judges_are_never_cached_and_the_cache_can_be_off():
    judge = load_model("scripted:Relevance: 4")
    assert cached_judges([judge], enabled=True)[0] == [judge]
    assert cached_judges([judge], enabled=False) == ([judge], None)


def test_a_retried_record_supersedes_its_failed_one():
    failed = {**make_record("p1", "p1", None, None, None), "status": "failed", "error": "cannot reach"}
    retried = make_record("p1", "p1", (4, 4, 4), (1, 1, 1), "A")
    kept = normalize_records([failed, make_record("p2", "p1", (2, 2, 2), (2, 2, 2), "tie"), retried])
    assert [(r["id"], r["status"], r["winner"]) for r in kept] == [("p2", "ok", "tie"), ("p1", "ok", "A")]
