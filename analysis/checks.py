"""Judge-free answer checks from a prompt set (contains, regex, word limits, JSON), validated when the set loads."""
from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache

import regex

from basics import UserFacingError

# The fields each check type takes besides "type"; anything else is a typo the author should hear about.
CHECK_FIELDS: dict[str, frozenset[str]] = {
    "contains": frozenset({"value", "case_sensitive"}),
    "not_contains": frozenset({"value", "case_sensitive"}),
    "regex": frozenset({"pattern"}),
    "max_words": frozenset({"value"}),
    "min_words": frozenset({"value"}),
    "json": frozenset(),
}
CHECK_TYPES = tuple(CHECK_FIELDS)
# Model answers change case freely; an author who needs exact case says "case_sensitive": true.
DEFAULT_CASE_SENSITIVE = False
# Bounds the search for a JSON span in a long answer full of unbalanced brackets (each try scans to the end).
MAX_JSON_CANDIDATES = 100
# A regex check's pattern comes from whoever wrote the prompt set (an upload, in a public app), and one such as
# (x+x+)+y backtracks for hours on a long answer. The `regex` package, unlike re, can stop a search after a time.
REGEX_TIMEOUT_S = 1.0


class CheckError(UserFacingError):
    """A check in a prompt set is malformed; the message names the file, line and check, and the fix."""


@dataclass(frozen=True)
class Check:
    """One rule an answer must meet; `value` is the text (contains / not_contains) or the word limit."""

    type: str
    value: str | int | None = None
    pattern: str = ""
    case_sensitive: bool = DEFAULT_CASE_SENSITIVE

    @property
    def description(self) -> str:
        if self.type == "contains":
            return f"contains {self.value!r}" + (" (case-sensitive)" if self.case_sensitive else "")
        if self.type == "not_contains":
            return f"does not contain {self.value!r}" + (" (case-sensitive)" if self.case_sensitive else "")
        if self.type == "regex":
            return f"matches /{self.pattern}/"
        if self.type == "max_words":
            return f"at most {_words(int(self.value))}"
        if self.type == "min_words":
            return f"at least {_words(int(self.value))}"
        return "valid JSON"

    def to_dict(self) -> dict:
        """The check as it is written in a prompt set file."""
        data = {"type": self.type, "value": self.value, "pattern": self.pattern,
                "case_sensitive": self.case_sensitive}
        return {"type": self.type, **{k: data[k] for k in sorted(CHECK_FIELDS[self.type])}}


@dataclass(frozen=True)
class CheckResult:
    type: str
    description: str  # human readable, e.g. "at most 50 words"
    passed: bool
    detail: str  # why it failed ("61 words"); on a pass, what was found, or ""

    def to_dict(self) -> dict:
        return asdict(self)


def parse_checks(raw: object, where: str) -> tuple[Check, ...]:
    """Validate a prompt's "checks" list; `where` names the prompt (e.g. "general.jsonl line 12").

    Every problem raises CheckError naming `where` and the check number, e.g. "general.jsonl line 12, check 2".
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CheckError(f'{where}: "checks" must be a list of objects, e.g. '
                         f'[{{"type": "contains", "value": "42"}}], got {raw!r}')
    return tuple(_parse_check(item, f"{where}, check {number}") for number, item in enumerate(raw, 1))


def _parse_check(raw: object, where: str) -> Check:
    if not isinstance(raw, Mapping):
        raise CheckError(f'{where}: a check must be an object like {{"type": "contains", "value": "42"}}, '
                         f"got {raw!r}")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CHECK_FIELDS:
        got = "no type" if kind is None else f"type {kind!r}"
        raise CheckError(f'{where}: unknown check ({got}); set "type" to one of: {", ".join(CHECK_TYPES)}')
    unknown = set(raw) - CHECK_FIELDS[kind] - {"type"}
    if unknown:
        fields = ", ".join(sorted(CHECK_FIELDS[kind]))
        takes = f"takes: {fields}" if fields else "takes no other fields"
        hint = ""
        if kind == "regex" and "case_sensitive" in unknown:
            hint = "; to ignore case, start the pattern with (?i)"
        raise CheckError(f"{where}: a {kind} check does not take {', '.join(sorted(unknown))}; "
                         f"remove it (a {kind} check {takes}){hint}")
    if kind in ("contains", "not_contains"):
        return Check(type=kind, value=_parse_text(raw, kind, where), case_sensitive=_parse_case(raw, where))
    if kind == "regex":
        return Check(type=kind, pattern=_parse_pattern(raw, where))
    if kind in ("max_words", "min_words"):
        return Check(type=kind, value=_parse_word_limit(raw, kind, where))
    return Check(type=kind)


def _parse_text(raw: Mapping, kind: str, where: str) -> str:
    value = raw.get("value")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise CheckError(f'{where}: a {kind} check matches text; write the number in quotes: "value": "{value}"')
    raise CheckError(f'{where}: a {kind} check needs a non-empty text "value", '
                     f'e.g. {{"type": "{kind}", "value": "42"}}, got {value!r}')


def _parse_case(raw: Mapping, where: str) -> bool:
    value = raw.get("case_sensitive", DEFAULT_CASE_SENSITIVE)
    if not isinstance(value, bool):  # "false" as a string would read as true
        raise CheckError(f'{where}: "case_sensitive" must be true or false (no quotes), got {value!r}')
    return value


def _parse_pattern(raw: Mapping, where: str) -> str:
    pattern = raw.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise CheckError(f'{where}: a regex check needs a non-empty "pattern", '
                         f'e.g. {{"type": "regex", "pattern": "x\\\\s*=\\\\s*6"}}, got {pattern!r}')
    shown = pattern if len(pattern) <= 200 else pattern[:200] + "..."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # re's "possible nested set" on '[[': noise on stderr
            re.compile(pattern)
        compiled_pattern(pattern)
    except (re.error, regex.error) as exc:
        # The usual cause is JSON escaping: \d must be written \\d inside a JSON string.
        raise CheckError(f"{where}: regex pattern {shown!r} does not compile ({exc}); fix the pattern "
                         f"(in JSON a backslash is written twice, e.g. \"\\\\d+\")") from exc
    except (OverflowError, RecursionError) as exc:  # a{99999999999}, or parentheses thousands deep
        raise CheckError(f"{where}: regex pattern {shown!r} is too large to compile ({exc}); use smaller "
                         "repeat counts and fewer nested groups") from exc
    return pattern


@lru_cache(maxsize=256)
def compiled_pattern(pattern: str) -> regex.Pattern:
    """A check's pattern compiled for searching with a timeout (the regex package, read as re reads it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # regex warns of nested sets in '[[', which re reads as '['
        return regex.compile(pattern)


def _parse_word_limit(raw: Mapping, kind: str, where: str) -> int:
    value = raw.get("value")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise CheckError(f'{where}: a {kind} check needs a whole number "value" of at least 1, '
                     f'e.g. {{"type": "{kind}", "value": 50}}, got {value!r}')


def count_words(text: str) -> int:
    """Words as the word-limit checks count them: runs of non-whitespace."""
    return len(text.split())


def run_check(check: Check, answer: str) -> CheckResult:
    passed, detail = _RUNNERS[check.type](check, answer or "")
    return CheckResult(type=check.type, description=check.description, passed=passed, detail=detail)


def run_checks(checks: Iterable[Check | Mapping], answer: str) -> list[CheckResult]:
    """Every check run on one answer; raw dicts (as a PromptItem holds them) are validated first."""
    parsed = [c if isinstance(c, Check) else _parse_check(c, f"check {n}") for n, c in enumerate(checks, 1)]
    return [run_check(check, answer) for check in parsed]


def checks_summary(results: Iterable[CheckResult | Mapping]) -> dict:
    """{"passed": n, "total": n, "failed": [descriptions]}; takes results or their saved dicts."""
    rows = [r.to_dict() if isinstance(r, CheckResult) else r for r in results]
    failed = [row["description"] for row in rows if not row["passed"]]
    return {"passed": len(rows) - len(failed), "total": len(rows), "failed": failed}


def _run_contains(check: Check, answer: str) -> tuple[bool, str]:
    if _count(check, answer):
        return True, ""
    if check.case_sensitive and answer.casefold().count(str(check.value).casefold()):
        return False, "not found (only with different case)"
    return False, "not found"


def _run_not_contains(check: Check, answer: str) -> tuple[bool, str]:
    found = _count(check, answer)
    return (True, "") if not found else (False, f"found {_times(found)}")


def _count(check: Check, answer: str) -> int:
    value = str(check.value)
    return answer.count(value) if check.case_sensitive else answer.casefold().count(value.casefold())


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _run_regex(check: Check, answer: str) -> tuple[bool, str]:
    try:
        match = compiled_pattern(check.pattern).search(answer, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        return False, (f"stopped after {REGEX_TIMEOUT_S:g} s: the pattern backtracks too much on this answer; "
                       "simplify it in the prompt set (e.g. (a+)+ matches what a+ matches)")
    if not match:
        return False, "no match"
    text = match.group(0)
    return True, f"matched {text[:60] + '...' if len(text) > 60 else text!r}"


def _run_max_words(check: Check, answer: str) -> tuple[bool, str]:
    n = count_words(answer)
    return n <= int(check.value), _words(n)


def _run_min_words(check: Check, answer: str) -> tuple[bool, str]:
    n = count_words(answer)
    return n >= int(check.value), _words(n)


def _words(n: int) -> str:
    return "1 word" if n == 1 else f"{n} words"


def _run_json(check: Check, answer: str) -> tuple[bool, str]:
    first_error = ""
    for label, text, telling in _json_candidates(answer):
        error = _json_error(text)
        if error is None:
            return True, f"JSON found ({label})"
        if telling and not first_error:
            first_error = f"not valid JSON: {error}"
    return False, first_error or "no JSON object or array in the answer"


_RUNNERS: dict[str, Callable[[Check, str], tuple[bool, str]]] = {
    "contains": _run_contains, "not_contains": _run_not_contains, "regex": _run_regex,
    "max_words": _run_max_words, "min_words": _run_min_words, "json": _run_json,
}

_FENCED_JSON = re.compile(r"```[ \t]*json\b\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_OPENERS = re.compile(r"[{\[]")
_CLOSER_OF = {"{": "}", "[": "]"}


def _json_candidates(answer: str) -> Iterable[tuple[str, str, bool]]:
    """(where, text, whether its parse error is worth showing) in the order tried: whole, fenced, spans."""
    whole = answer.strip()
    # A prose answer's "Expecting value at column 1" says nothing; only report it when the answer looks like JSON.
    yield "the whole answer", whole, whole[:1] in ("{", "[")
    for match in _FENCED_JSON.finditer(answer):
        yield "in a ```json block", match.group(1).strip(), True
    for span in _bracket_spans(answer):
        yield f"a JSON {'object' if span[0] == '{' else 'array'} in the text", span, True


def _bracket_spans(text: str) -> Iterable[str]:
    """Top-level balanced {...} / [...] spans, first to last.

    Every top-level span is tried, not only the first, so that a bracket in the prose ("[1]", "(see [2])")
    does not hide the JSON after it. Spans nested in a span that failed are not tried: a Python dict such
    as {'n': [1, 2]} is not JSON, and its inner list should not make it pass.
    """
    position = tried = 0
    while tried < MAX_JSON_CANDIDATES and (match := _OPENERS.search(text, position)):
        tried += 1
        start = match.start()
        end = _closing_bracket(text, start)
        if end is None:
            position = start + 1
            continue
        yield text[start:end + 1]
        position = end + 1


def _closing_bracket(text: str, start: int) -> int | None:
    """Index of the bracket that closes text[start]; brackets inside JSON strings do not count."""
    expected: list[str] = []
    in_string = escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in _CLOSER_OF:
            expected.append(_CLOSER_OF[ch])
        elif ch in "]}":
            if ch != expected.pop():
                return None
            if not expected:
                return i
    return None


def _json_error(text: str) -> str | None:
    """None if `text` is valid JSON, else the parser's complaint."""
    if not text:
        return "empty"
    try:
        json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _reject_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; JSON does not, and other parsers would reject the answer.
    raise ValueError(f"{name} is not valid JSON")
