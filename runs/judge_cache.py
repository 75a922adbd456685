"""An on-disk cache of judge calls: the same judge, template, inputs and settings are answered from it, so
re-judging a run or re-validating a judge costs nothing twice (a served judge's tokens are paid for).

The key is a hash of the judge's spec, the call's kind and everything it was given (the rendered template carries the
template's text, hence its hash; settings, seed and grammar included). One SQLite file under the results folder,
`.cache/judge_calls.sqlite`; delete it, or run with --no-cache / judge_cache=False, to ask every judge afresh.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from basics import results_dir
from models.backend import Backend, Generation, TokenChoice
from models.settings import SamplingSettings

CACHE_FILE = Path(".cache") / "judge_calls.sqlite"


def cache_path() -> Path:
    return results_dir() / CACHE_FILE


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


class JudgeCallCache:
    """get/put of JSON values by key, safe across threads (one short-lived connection per operation)."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get(self, key: str):
        with self._lock, self._connect() as db:
            row = db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value) -> None:
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)", (key, json.dumps(value)))


def call_key(spec: str, kind: str, *inputs) -> str:
    text = json.dumps([spec, kind, *[asdict(i) if isinstance(i, SamplingSettings) else i for i in inputs]],
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedJudge:
    """A judge backend whose scoring calls go through the cache; everything else is the backend's own."""

    def __init__(self, inner: Backend, cache: JudgeCallCache, stats: CacheStats | None = None):
        self.inner, self.cache, self.stats = inner, cache, stats or CacheStats()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _cached(self, kind: str, inputs: tuple, compute, encode, decode):
        key = call_key(self.inner.spec.text, kind, *inputs)
        found = self.cache.get(key)
        if found is not None:
            self.stats.hits += 1
            return decode(found)
        self.stats.misses += 1
        value = compute()
        self.cache.put(key, encode(value))
        return value

    def score(self, messages, settings, grammar=None) -> Generation:
        return self._cached("score", (messages, settings, grammar),
                            lambda: self.inner.score(messages, settings, grammar), _encode_generation,
                            _decode_generation)

    def complete(self, messages, settings) -> Generation:
        return self._cached("complete", (messages, settings), lambda: self.inner.complete(messages, settings),
                            _encode_generation, _decode_generation)

    def continuation_logprobs(self, messages, prefix, continuations) -> list[float]:
        return self._cached("continuation_logprobs", (messages, prefix, list(continuations)),
                            lambda: self.inner.continuation_logprobs(messages, prefix, continuations),
                            list, list)

    def reply_with_probabilities(self, messages, settings, grammar=None, top_logprobs=20):
        def encode(value):
            text, tokens, generation = value
            return [text, [[t.token, t.top] for t in tokens], _encode_generation(generation)]

        def decode(value):
            text, tokens, generation = value
            return text, [TokenChoice(token, top) for token, top in tokens], _decode_generation(generation)

        return self._cached("reply_with_probabilities", (messages, settings, grammar, top_logprobs),
                            lambda: self.inner.reply_with_probabilities(messages, settings, grammar, top_logprobs),
                            encode, decode)


def _encode_generation(generation: Generation) -> dict:
    return asdict(generation)


def _decode_generation(data: dict) -> Generation:
    return Generation(**data)


def cached_judges(judges: list[Backend], enabled: bool) -> tuple[list, CacheStats | None]:
    """The judges behind one shared cache (and its hit counts), or as they are when the cache is off. Scripted judges
    are never cached: their replies come in turn, whatever they are asked, and cost nothing."""
    if not enabled:
        return list(judges), None
    cache, stats = JudgeCallCache(), CacheStats()
    return [judge if judge.name == "scripted" else CachedJudge(judge, cache, stats) for judge in judges], stats
