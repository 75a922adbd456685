"""Eval suites as data: a YAML file of cases, each with the modes its answer must meet, validated when it loads.

A mode is either a judge-free check of analysis/checks.py (`{type: contains, value: flour}`), a judge threshold
(`{min_total: 9}`, `{judge: {criterion: relevance, at_least: 3}}`) or the pairwise `{beats_baseline: {margin: 1}}`.
`expect` lists modes that must hold, `fail_if` modes that must not. Every problem is a SuiteError naming the file, the
case and the mode, and saying how to fix it, before any model loads.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from analysis.checks import Check, CheckError, parse_checks
from basics import PROMPTS_DIR, UserFacingError, read_text_file
from judge.rubric import Rubric
from models import DEFAULT_JUDGE_SETTINGS, DEFAULT_PRESET, PRESETS, SettingsError, preset_settings

SUITES_DIR = PROMPTS_DIR / "suites"
SUITE_KEYS = {"name", "description", "mode", "template", "settings", "defaults", "cases"}
SAMPLING_KEYS = ("max_new_tokens", "seed", "temperature")  # over the preset's, for the answers
SETTING_KEYS = {"preset", "judge_temperature", *SAMPLING_KEYS}
CASE_KEYS = {"id", "prompt", "reference", "system", "category", "expect", "fail_if", "samples", "pass_rate"}
JUDGE_MODES = ("min_total", "judge", "beats_baseline")
MODES = ("single", "pairwise")
PASS_RATE_SLACK = 0.005  # pass rates are read to two decimals
MAX_SAMPLES = 100  # a case asking for more is a typo, not a plan: each sample is a full answer and judging


class SuiteError(UserFacingError):
    """A suite file is malformed; the message names the file, the case and the mode, and the fix."""


@dataclass(frozen=True)
class Mode:
    """One thing asked of an answer. `kind` is "check" (a judge-free Check), "min_total", "judge" (a criterion's
    score at_least / at_most a value) or "beats_baseline" (the judge prefers the answer, by `value` points at least)."""

    kind: str
    check: Check | None = None
    criterion: str = ""
    at_least: float | None = None
    at_most: float | None = None
    value: float = 0.0  # min_total's total; beats_baseline's margin in total points (0: a win is enough)

    @property
    def needs_judge(self) -> bool:
        return self.kind != "check"

    @property
    def description(self) -> str:
        if self.kind == "check":
            return self.check.description
        if self.kind == "min_total":
            return f"total at least {self.value:g}"
        if self.kind == "judge":
            bound = f"at least {self.at_least:g}" if self.at_least is not None else f"at most {self.at_most:g}"
            return f"{self.criterion} {bound}"
        return "beats the baseline" + (f" by {self.value:g} points or more" if self.value else "")


@dataclass(frozen=True)
class Case:
    """One prompt of a suite and what its answer must (expect) and must not (fail_if) do; `samples` answers are
    made and the case passes when at least `pass_rate` of them meet every mode."""

    id: str
    prompt: str
    expect: tuple[Mode, ...] = ()
    fail_if: tuple[Mode, ...] = ()
    samples: int = 1
    pass_rate: float = 1.0
    reference: str = ""
    system: str | None = None
    category: str = ""

    @property
    def modes(self) -> tuple[Mode, ...]:
        return self.expect + self.fail_if

    @property
    def needed(self) -> int:
        """Samples that must pass: the fewest whose share reaches pass_rate read to two decimals (0.8 of 5 is 4, 0.67
        of 3 is 2: people write two thirds as 0.67, and 2/3 < 0.67 would otherwise ask for all 3)."""
        return next(k for k in range(1, self.samples + 1) if k / self.samples >= self.pass_rate - PASS_RATE_SLACK)


@dataclass(frozen=True)
class Suite:
    name: str
    cases: tuple[Case, ...]
    path: str = ""
    description: str = ""
    mode: str = "single"
    template: str | None = None
    settings: dict = field(default_factory=dict)  # preset, max_new_tokens, seed, temperature, judge_temperature

    @property
    def needs_baseline(self) -> list[str]:
        """Ids of the cases that ask whether the model beats the baseline."""
        return [c.id for c in self.cases if any(m.kind == "beats_baseline" for m in c.modes)]

    def check_rubric(self, rubric: Rubric) -> None:
        """Judge thresholds against the judge template's criteria and scale, before any model loads."""
        for case in self.cases:
            for mode in case.modes:
                where = f"{self.path}: case {case.id!r}, {mode.description}"
                if mode.kind == "judge" and mode.criterion not in rubric.criteria:
                    raise SuiteError(f"{where}: the judge template has no criterion {mode.criterion!r}; use one of "
                                     f"{', '.join(rubric.criteria) or '(none: it gives verdicts only)'}")
                if mode.kind == "judge":
                    bound = mode.at_least if mode.at_least is not None else mode.at_most
                    if not rubric.low <= bound <= rubric.high:
                        raise SuiteError(f"{where}: {bound:g} is off the template's scale {rubric.low}-{rubric.high}; "
                                         "pick a score on it")
                if mode.kind == "min_total" and not rubric.scored:
                    raise SuiteError(f"{where}: the judge template gives no scores, so there is no total; use "
                                     "beats_baseline, or a template with criteria")
                if mode.kind == "min_total" and mode.value > rubric.max_total:
                    raise SuiteError(f"{where}: the template's highest total is {rubric.max_total}; lower min_total")


def suite_path(name_or_path: str | Path) -> Path:
    """A suite file, or a shipped suite's name in prompts/suites/ (e.g. study)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = SUITES_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))) or "none"
    raise SuiteError(f"no suite file {str(name_or_path)!r}: give a YAML file's path or a shipped suite ({names})")


def load_suite(name_or_path: str | Path) -> Suite:
    path = suite_path(name_or_path)
    where = str(path)
    try:
        data = yaml.safe_load(read_text_file(path, SuiteError))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{where}: not valid YAML ({exc}); fix the line it names") from exc
    return parse_suite(data, where)


def parse_suite(data: object, where: str) -> Suite:
    if not isinstance(data, Mapping):
        raise SuiteError(f"{where}: a suite is a YAML mapping with name and cases, got {type(data).__name__}")
    _known(data, SUITE_KEYS, where, "a suite")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SuiteError(f"{where}: the suite needs a name (text), e.g. `name: study`")
    mode = data.get("mode", "single")
    if mode not in MODES:
        raise SuiteError(f"{where}: mode must be {' or '.join(MODES)}, got {mode!r}")
    template = data.get("template")
    if template is not None and not isinstance(template, str):
        raise SuiteError(f"{where}: template must be a template's name in prompts/ or a YAML file, got {template!r}")
    settings = _settings(data.get("settings") or {}, where)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise SuiteError(f"{where}: defaults must be a mapping such as {{samples: 3, pass_rate: 0.67}}")
    _known(defaults, {"samples", "pass_rate"}, where, "defaults")
    raw_cases = data.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise SuiteError(f"{where}: the suite needs a non-empty list of cases, each with an id and a prompt")
    cases = tuple(_case(raw, defaults, f"{where}: case {number}") for number, raw in enumerate(raw_cases, 1))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise SuiteError(f"{where}: case id {case.id!r} appears twice; give each case its own id")
        seen.add(case.id)
    return Suite(name=name.strip(), cases=cases, path=where, description=str(data.get("description") or ""),
                 mode=mode, template=template, settings=settings)


def _known(data: Mapping, keys: set[str], where: str, what: str) -> None:
    unknown = sorted(str(k) for k in set(data) - keys)
    if unknown:
        raise SuiteError(f"{where}: {what} does not take {', '.join(unknown)}; remove it (it takes: "
                         f"{', '.join(sorted(keys))})")


def _settings(raw: object, where: str) -> dict:
    if not isinstance(raw, Mapping):
        raise SuiteError(f"{where}: settings must be a mapping such as {{preset: p1, max_new_tokens: 128}}")
    _known(raw, SETTING_KEYS, where, "settings")
    if "preset" in raw and raw["preset"] not in PRESETS:
        raise SuiteError(f"{where}: settings: unknown preset {raw['preset']!r}; use one of {', '.join(PRESETS)}")
    for key in ("max_new_tokens", "seed"):
        if key in raw and (not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 0):
            raise SuiteError(f"{where}: settings: {key} must be a whole number, got {raw[key]!r}")
    for key in ("temperature", "judge_temperature"):
        if key in raw and (not _number(raw[key]) or raw[key] < 0):
            raise SuiteError(f"{where}: settings: {key} must be a number of at least 0, got {raw[key]!r}")
    try:  # the ranges are the sampling settings' own (models/settings.py), checked here so the suite is named
        preset_settings(raw.get("preset", DEFAULT_PRESET), **{k: raw[k] for k in SAMPLING_KEYS if k in raw})
        DEFAULT_JUDGE_SETTINGS.with_(temperature=raw.get("judge_temperature", 0.0))
    except SettingsError as exc:
        raise SuiteError(f"{where}: settings: {exc}; change it in the suite") from exc
    return dict(raw)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _case(raw: object, defaults: Mapping, where: str) -> Case:
    if not isinstance(raw, Mapping):
        raise SuiteError(f"{where}: a case is a mapping with id, prompt and expect, got {raw!r}")
    case_id = raw.get("id")
    if not isinstance(case_id, (str, int)) or isinstance(case_id, bool) or not str(case_id).strip():
        raise SuiteError(f"{where}: the case needs an id (text), e.g. `id: cake`")
    where = f"{where} ({case_id})"
    _known(raw, CASE_KEYS, where, "a case")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise SuiteError(f"{where}: the case needs a prompt (non-empty text)")
    expect = _modes(raw.get("expect"), f"{where}, expect")
    fail_if = _modes(raw.get("fail_if"), f"{where}, fail_if")
    if not expect and not fail_if:
        raise SuiteError(f"{where}: the case asks nothing of the answer; add expect (modes that must hold) or "
                         "fail_if (modes that must not), e.g. expect: [{min_total: 9}]")
    samples = raw.get("samples", defaults.get("samples", 1))
    if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= MAX_SAMPLES:
        raise SuiteError(f"{where}: samples must be a whole number from 1 to {MAX_SAMPLES}, got {samples!r}")
    pass_rate = raw.get("pass_rate", defaults.get("pass_rate", 1.0))
    if not _number(pass_rate) or not 0 < pass_rate <= 1:
        raise SuiteError(f"{where}: pass_rate must be a share above 0 and at most 1 (0.8 = 4 of 5 samples), got "
                         f"{pass_rate!r}")
    system = raw.get("system")
    for key in ("reference", "category", "system"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise SuiteError(f"{where}: {key} must be text, got {raw[key]!r}")
    return Case(id=str(case_id).strip(), prompt=prompt, expect=expect, fail_if=fail_if, samples=samples,
                pass_rate=float(pass_rate), reference=raw.get("reference") or "", system=system,
                category=raw.get("category") or "")


def _modes(raw: object, where: str) -> tuple[Mode, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SuiteError(f"{where}: must be a list of modes, e.g. [{{min_total: 9}}, {{type: contains, value: x}}]")
    return tuple(_mode(item, f"{where}, mode {number}") for number, item in enumerate(raw, 1))


def _mode(raw: object, where: str) -> Mode:
    if not isinstance(raw, Mapping):
        raise SuiteError(f"{where}: a mode is a mapping such as {{min_total: 9}} or {{type: regex, pattern: x}}, "
                         f"got {raw!r}")
    if "type" in raw:  # a judge-free check, in the prompt sets' own format and with their validation
        try:
            (check,) = parse_checks([dict(raw)], where)
        except CheckError as exc:  # parse_checks numbers the checks of a list; here the mode is already numbered
            raise SuiteError(str(exc).replace(f"{where}, check 1:", f"{where}:", 1)) from exc
        return Mode("check", check=check)
    keys = [k for k in raw if k in JUDGE_MODES]
    if len(raw) != 1 or len(keys) != 1:
        raise SuiteError(f"{where}: a mode is one of: a check ({{type: contains, value: ...}}), "
                         f"{', '.join(JUDGE_MODES)}; got {dict(raw)!r}")
    kind, value = keys[0], raw[keys[0]]
    if kind == "min_total":
        if not _number(value) or value <= 0:
            raise SuiteError(f"{where}: min_total must be a positive number (a total of the judge's scores), got "
                             f"{value!r}")
        return Mode("min_total", value=float(value))
    if kind == "beats_baseline":
        if value is True or value is None:
            return Mode("beats_baseline")
        if not isinstance(value, Mapping) or set(value) - {"margin"}:
            raise SuiteError(f"{where}: beats_baseline is true or {{margin: POINTS}}, got {value!r}")
        margin = value.get("margin", 0)
        if not _number(margin) or margin < 0:
            raise SuiteError(f"{where}: beats_baseline's margin must be a number of total points (0 or more), got "
                             f"{margin!r}")
        return Mode("beats_baseline", value=float(margin))
    if not isinstance(value, Mapping) or not isinstance(value.get("criterion"), str):
        raise SuiteError(f"{where}: judge takes {{criterion: NAME, at_least: N}} or {{criterion: NAME, at_most: N}}, "
                         f"got {value!r}")
    unknown = set(value) - {"criterion", "at_least", "at_most"}
    bounds = [k for k in ("at_least", "at_most") if k in value]
    if unknown or len(bounds) != 1 or not _number(value[bounds[0]]):
        raise SuiteError(f"{where}: judge takes a criterion and one number, at_least or at_most, e.g. "
                         f"{{criterion: relevance, at_least: 3}}; got {dict(value)!r}")
    return Mode("judge", criterion=value["criterion"], **{bounds[0]: float(value[bounds[0]])})
