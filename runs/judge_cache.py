"""An on-disk cache of judge calls: the same judge, template, inputs and settings are answered from it, so
re-judging a run or re-validating a judge costs nothing twice (a served judge's tokens are paid for).

The key is a hash of the judge's identity (its spec, the sha256 of its files and a hub model's revision: a head or
adapter retrained in the same folder is another judge), the call's kind and everything it was given (the rendered
template carries the template's text, hence its hash; settings, seed and grammar included). One SQLite file under
the results folder, `.cache/judge_calls.sqlite`; delete it, or run with --no-cache / judge_cache=False, to ask
every judge afresh.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

from basics import UserFacingError, cache_rebuilt, results_dir
from models.backend import Backend, Generation, TokenChoice
from models.settings import SamplingSettings

CACHE_FILE = Path(".cache") / "judge_calls.sqlite"


def cache_path() -> Path:
    return results_dir() / CACHE_FILE


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


JUDGE_CACHE_DAMAGED = "the judge cache ({}) was damaged: it was set aside as {} and a fresh one started"
ENTRY_DAMAGED = "a damaged entry of the judge cache ({}) was asked afresh and written again"


class JudgeCallCache:
    """get/put of JSON values by key, safe across threads (one short-lived connection per operation). A database
    file SQLite cannot read is moved aside and a fresh one made, with a notice (basics.cache_rebuilt): the calls it
    held are asked again, never a failed run; each write is one SQLite transaction."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_path()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._healing(lambda db: None)
        except (OSError, sqlite3.OperationalError) as exc:  # e.g. $LLM_JUDGE_RESULTS names a file, a read-only mount
            reason = getattr(exc, "strerror", None) or exc
            raise UserFacingError(f"cannot use the judge cache {self.path} ({reason}): make its folder writable (or "
                                  "set $LLM_JUDGE_RESULTS to one), or turn the judge cache off (--no-cache)") from exc

    def _healing(self, operation):
        """`operation(db)` in one transaction; on a damaged file, once more on a fresh one."""
        try:
            return self._do(operation)
        except sqlite3.DatabaseError as exc:
            # Only damage is healed: a locked, full or unwritable database is not made good by moving it.
            if not exc.sqlite_errorname.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
                raise
            self._set_aside()
            return self._do(operation)

    def _do(self, operation):
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            return operation(db)

    def _set_aside(self) -> None:
        aside = self.path.with_name(self.path.name + ".damaged")
        try:
            os.replace(self.path, aside)  # the last damaged copy is kept to look at; older ones are not
        except FileNotFoundError:  # another process set it aside first
            pass
        for journal in ("-journal", "-wal", "-shm"):  # a journal left beside it would be replayed into the fresh one
            self.path.with_name(self.path.name + journal).unlink(missing_ok=True)
        cache_rebuilt(JUDGE_CACHE_DAMAGED.format(self.path, aside.name))

    def get(self, key: str):
        with self._lock:
            row = self._healing(lambda db: db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone())
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except (TypeError, ValueError, RecursionError):
            self.damaged_entry()
            return None

    def put(self, key: str, value) -> None:
        text = json.dumps(value)
        with self._lock:
            self._healing(lambda db: db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)", (key, text)))

    def damaged_entry(self) -> None:
        cache_rebuilt(ENTRY_DAMAGED.format(self.path))


def call_key(identity: str, kind: str, *inputs) -> str:
    text = json.dumps([identity, kind, *[asdict(i) if isinstance(i, SamplingSettings) else i for i in inputs]],
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def judge_identity(backend: Backend) -> str:
    """The judge's spec with what its files hold and its hub revision: a key by spec alone answered a head retrained
    in the same folder with the old head's verdicts."""
    from runs.fingerprints import model_files

    try:
        hashes = [[f["role"], f["sha256"]] for f in model_files(backend.spec) if "sha256" in f]
    except (OSError, UserFacingError):  # files gone since loading: the spec alone, as before
        hashes = []
    return json.dumps([backend.spec.text, hashes, getattr(backend, "revision", None)])


class CachedJudge:
    """A judge backend whose scoring calls go through the cache; everything else is the backend's own."""

    def __init__(self, inner: Backend, cache: JudgeCallCache, stats: CacheStats | None = None):
        self.inner, self.cache, self.stats = inner, cache, stats or CacheStats()
        self.identity = judge_identity(inner)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _cached(self, kind: str, inputs: tuple, compute, encode, decode):
        key = call_key(self.identity, kind, *inputs)
        found = self.cache.get(key)
        if found is not None:
            try:
                value = decode(found)
            except (TypeError, ValueError, KeyError, IndexError):  # a stored value of the wrong form: asked afresh
                self.cache.damaged_entry()
            else:
                self.stats.hits += 1
                return value
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
