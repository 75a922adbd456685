"""Judge templates: YAML files in prompts/ with named placeholders, validated when loaded, before any model runs."""
from __future__ import annotations

import hashlib
import re
import reprlib
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from basics import PROMPTS_DIR, UserFacingError, read_text_file, templates_dir
from judge.output_format import OutputFormatError, format_segments
from judge.result_format import RESULT, format_problem
from judge.rubric import DEFAULT_CRITERIA, DEFAULT_SCALE, Rubric

# single: a rubric over one answer; pairwise: a rubric over two answers and a verdict; label: one class of a fixed set.
MODES = ("single", "pairwise", "label")
REQUIRED_PLACEHOLDERS = {"single": {"prompt", "answer"}, "pairwise": {"prompt", "answer_a", "answer_b"},
                         "label": {"answer"}}
# {rubric}: the prompt's own score rubric (a prompt set's `rubric` field), else the template's `score_rubric`.
OPTIONAL_PLACEHOLDERS = {"reference", "output_format", "rubric"}
OPTIONAL_BY_MODE = {"label": {"prompt"}}
DEFAULT_TEMPLATES = {"single": "judge_single", "pairwise": "judge_pairwise", "label": "toxicity"}
# How a reply is read: "lines" ('Relevance: 3' lines, [[A]] verdicts, [[label]]s: judge/parsing.py) or "result"
# (Prometheus 2's 'feedback [RESULT] 4': judge/result_format.py).
LINES = "lines"
PARSERS = (LINES, RESULT)
LABEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# Text that could pass for the template's own structure or a reply: an answer may not close its fence or hold a
# verdict token (see fence_text).
_FENCE_BREAKERS = {"<<<": "‹‹‹", ">>>": "›››", "[[": "⟦", "]]": "⟧"}
_RESULT_MARKER = re.compile(r"\[(\s*result\s*)\]", re.IGNORECASE)  # Prometheus' verdict token, '[RESULT] 5'
# Fields that must be text when present (name may also be a number: YAML reads `name: 2024` as one).
TEXT_FIELDS = ("mode", "template", "output_format", "system", "description", "parser", "score_rubric",
               "template_without_reference")
# Values echoed in error messages are cut short: YAML aliases can nest a list a billion items deep in a few lines.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 3, 6, 6, 80, 80


def fence_text(text: str) -> str:
    """Text placed inside a template's <<< >>> fence, with anything that could end the fence or read as a verdict
    ("[[A]]", "[RESULT] 5") replaced by look-alikes: an answer cannot break out of its fence and pose as the judge's
    reply."""
    for marker, replacement in _FENCE_BREAKERS.items():
        text = text.replace(marker, replacement)
    return _RESULT_MARKER.sub(r"［\1］", text)


class TemplateError(UserFacingError):
    """A judge template is malformed: missing fields, or missing / unknown placeholders."""


@dataclass(frozen=True)
class JudgeTemplate:
    name: str
    mode: str
    criteria: tuple[str, ...]
    scale: tuple[int, int]
    system: str
    template: str
    output_format: str
    description: str = ""
    source: str = ""
    labels: tuple[str, ...] = ()  # label mode: the classes, each written [[name]] in the output format
    text: str = field(default="", compare=False)  # the YAML as written (its comments and layout), when parsed
    parser: str = LINES
    score_rubric: str = ""  # {rubric} for a prompt without its own rubric
    template_without_reference: str = ""  # used instead of `template` for a prompt without a reference answer


    @property
    def rubric(self) -> Rubric:
        return Rubric(self.criteria, self.scale)

    @property
    def sha256(self) -> str:
        """Of the template's content, not its layout: the same template written two ways has one hash."""
        return hashlib.sha256(self.canonical_yaml().encode("utf-8")).hexdigest()

    def render(self, **values: str) -> list[dict]:
        """Chat messages for the judge, with every placeholder filled: {rubric} with the prompt's own rubric, else the
        template's; without a reference answer, `template_without_reference` where the template has one. Only the
        blank lines at the ends are dropped, so a template ending in '###Feedback: ' keeps its last space."""
        values = {"reference": "", "prompt": "", "rubric": "", **{k: fence_text(str(v)) for k, v in values.items()},
                  "output_format": self.output_format.strip()}
        values["rubric"] = values["rubric"].strip() or self.score_rubric.strip()
        missing = REQUIRED_PLACEHOLDERS[self.mode] - values.keys()
        if missing:
            raise TemplateError(f"template {self.name!r} needs values for {', '.join(sorted(missing))}")
        text = self.template
        if self.template_without_reference and not values["reference"].strip():
            text = self.template_without_reference
        messages = [{"role": "user", "content": text.format(**values).strip("\n")}]
        if self.system.strip():
            messages.insert(0, {"role": "system", "content": self.system.strip()})
        return messages

    def to_dict(self) -> dict:
        data = {
            "name": self.name, "mode": self.mode, "description": self.description, "criteria": list(self.criteria),
            "scale": list(self.scale), "system": self.system, "template": self.template,
            "output_format": self.output_format,
        }
        if self.mode == "label":
            data.pop("criteria"), data.pop("scale")
            data["labels"] = list(self.labels)
        # Written only where set, so a template without them keeps the content hash it had before they existed.
        extra = {"parser": self.parser if self.parser != LINES else "", "score_rubric": self.score_rubric,
                 "template_without_reference": self.template_without_reference}
        return {**data, **{key: value for key, value in extra.items() if value}}

    def to_yaml(self) -> str:
        """The YAML as its author wrote it (a re-dump would fold strings, double-space lines and drop comments);
        the canonical dump for a template built in code."""
        return self.text if self.text.strip() else self.canonical_yaml()

    def canonical_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=1000)


def shown(value: object) -> str:
    """A value as an error message quotes it: its repr, cut short."""
    return _SHORT.repr(value)


def placeholders(text: str, where: str = "template") -> set[str]:
    """The names of the bare {name} placeholders in `text`; TemplateError for anything else in braces.

    A format spec, conversion, index or attribute ('{prompt:>99999999999}', '{answer!r}', '{prompt[0]}') would run
    inside str.format on every render, with sizes and lookups the template's author chose: only names pass.
    """
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None]
    except ValueError as exc:  # e.g. a single '{' that is not a placeholder
        raise TemplateError(f"{where} is malformed ({exc}); write a literal brace as '{{{{' or '}}}}'") from exc
    for name, spec, conversion in fields:
        if not name.isidentifier() or spec or conversion:
            written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            bare = re.match(r"\w*", name).group(0) or "prompt"
            raise TemplateError(
                f"{where}: placeholder {shown(written)} is not allowed: only bare names such as {{{bare}}} are "
                f"(no format spec ':...', conversion '!r', index '[0]' or attribute '.x'); write {{{bare}}}, "
                "or double the braces ('{{' and '}}') for literal text")
    return {name for name, _, _ in fields}


def parse_template(text: str, source: str = "<text>") -> JudgeTemplate:
    """Build and validate a template from YAML text; every problem names the field and the fix."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML: {exc}") from exc
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        # PyYAML's constructors raise these on values such as 'a: 2001-13-14' or '!!int x', and its parser recurses
        # once per nesting level ('[[[[...').
        raise TemplateError(f"{source}: not valid YAML ({type(exc).__name__}: {str(exc)[:200]}); "
                            "fix the value it names, or nest lists and mappings less deeply") from exc
    if not isinstance(data, dict):
        raise TemplateError(f"{source}: expected a YAML mapping with name, mode, template, output_format")
    missing = [k for k in ("name", "mode", "template", "output_format") if not data.get(k)]
    if missing:
        raise TemplateError(f"{source}: missing field(s) {', '.join(missing)}")
    _check_field_types(data, source)
    mode = data["mode"]
    if mode not in MODES:
        raise TemplateError(f"{source}: mode must be one of {', '.join(MODES)}, got {shown(mode)}")
    found = _checked_placeholders(data["template"], mode, source, f"{source}: template")
    if data.get("template_without_reference"):
        where = f"{source}: template_without_reference"
        if "reference" in _checked_placeholders(data["template_without_reference"], mode, where, where):
            raise TemplateError(f"{source}: template_without_reference is used where there is no reference answer: "
                                "take {reference} out of it")
        if "reference" not in found:
            raise TemplateError(f"{source}: template_without_reference is for a template with {{reference}}; "
                                "put {reference} in template, or drop template_without_reference")
    if "rubric" in found and not (data.get("score_rubric") or "").strip():
        raise TemplateError(f"{source}: the template has {{rubric}}: give score_rubric, the rubric used for a prompt "
                            "without its own")
    parser = data.get("parser") or LINES
    if parser not in PARSERS:
        raise TemplateError(f"{source}: parser must be one of {', '.join(PARSERS)}, got {shown(parser)}")
    if placeholders(data.get("system") or "", f"{source}: system"):
        raise TemplateError(f"{source}: the system text takes no placeholders")
    try:
        format_segments(data["output_format"])
    except OutputFormatError as exc:
        raise TemplateError(f"{source}: {exc}") from exc
    texts = dict(score_rubric=data.get("score_rubric") or "",
                 template_without_reference=data.get("template_without_reference") or "")
    if mode == "label":
        if parser == RESULT:
            raise TemplateError(f"{source}: 'parser: result' is for single and pairwise templates; a label template "
                                "offers its labels as [[name]]")
        return JudgeTemplate(
            name=str(data["name"]), mode=mode, criteria=(), scale=DEFAULT_SCALE, system=data.get("system") or "",
            template=data["template"], output_format=data["output_format"],
            description=data.get("description") or "", source=source, labels=_labels(data, source), text=text,
            **texts,
        )
    # A [RESULT] template states its criteria itself: one score (single) or none, a verdict only (pairwise).
    raw_criteria = data.get("criteria") or ([] if parser == RESULT else list(DEFAULT_CRITERIA))
    if not isinstance(raw_criteria, list) or not all(isinstance(c, str) and c.strip() for c in raw_criteria):
        raise TemplateError(f"{source}: criteria must be a list of names, e.g. [relevance, coherence], "
                            f"got {shown(raw_criteria)}")
    criteria = tuple(c.strip().lower() for c in raw_criteria)
    raw_scale = data.get("scale") or list(DEFAULT_SCALE)
    if (not isinstance(raw_scale, list) or len(raw_scale) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in raw_scale)
            or raw_scale[0] >= raw_scale[1]):
        raise TemplateError(f"{source}: scale must be [low, high], two whole numbers with low < high, "
                            f"got {shown(raw_scale)}")
    scale = (raw_scale[0], raw_scale[1])
    if parser == RESULT:
        problem = format_problem(data["output_format"], mode, criteria, scale)
        if problem:
            raise TemplateError(f"{source}: {problem}")
    for criterion in criteria if parser == LINES else ():
        if criterion not in data["output_format"].lower():
            raise TemplateError(f"{source}: output_format must have a line for criterion {criterion!r}")
    return JudgeTemplate(
        name=str(data["name"]), mode=mode, criteria=criteria, scale=scale,
        system=data.get("system") or "", template=data["template"], output_format=data["output_format"],
        description=data.get("description") or "", source=source, text=text, parser=parser, **texts,
    )


def _checked_placeholders(text: str, mode: str, where: str, field_where: str) -> set[str]:
    """The placeholders of a template text, with the mode's required ones present and no unknown one."""
    found = placeholders(text, field_where)
    optional = OPTIONAL_PLACEHOLDERS | OPTIONAL_BY_MODE.get(mode, set())
    absent = REQUIRED_PLACEHOLDERS[mode] - found
    unknown = found - REQUIRED_PLACEHOLDERS[mode] - optional
    if absent:
        raise TemplateError(f"{where}: a {mode} template must contain {', '.join('{'+p+'}' for p in sorted(absent))}")
    if unknown:
        allowed = sorted(REQUIRED_PLACEHOLDERS[mode] | optional)
        raise TemplateError(
            f"{where}: unknown placeholder(s) {', '.join('{'+p+'}' for p in sorted(unknown))}; "
            f"allowed: {', '.join('{'+p+'}' for p in allowed)}"
        )
    return found


def _check_field_types(data: dict, source: str) -> None:
    """Refuse a field of the wrong YAML type (a list where text belongs), naming the field and what it must be."""
    for key in TEXT_FIELDS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise TemplateError(
                f"{source}: {key} must be text, got {_yaml_type(value)} {shown(value)}; write it as a YAML string "
                f"(for several lines, '{key}: |' followed by indented lines)")
    if isinstance(data["name"], bool) or not isinstance(data["name"], (str, int, float)):
        raise TemplateError(f"{source}: name must be text, got {_yaml_type(data['name'])} {shown(data['name'])}; "
                            "write it as a YAML string, e.g. name: my-judge")


def _yaml_type(value: object) -> str:
    names = {list: "a list", dict: "a mapping", bool: "true/false", int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _labels(data: dict, source: str) -> tuple[str, ...]:
    raw = data.get("labels")
    if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(x, str) for x in raw):
        raise TemplateError(f"{source}: a label template needs labels, a list of two or more class names, "
                            f"e.g. [toxic, non_toxic]; got {shown(raw)}")
    labels = tuple(x.strip().lower() for x in raw)
    bad = [x for x in labels if not LABEL_NAME.match(x)]
    if bad or len(set(labels)) != len(labels):
        raise TemplateError(f"{source}: labels must be distinct lower-case names of letters, digits, '_' or '-'; "
                            f"got {shown(list(raw))}")
    missing = [x for x in labels if f"[[{x}]]" not in data["output_format"].lower()]
    if missing:
        raise TemplateError(f"{source}: output_format must offer every label as [[name]]: "
                            f"missing {', '.join(f'[[{x}]]' for x in missing)}")
    return labels


def load_template(name_or_path: str | Path) -> JudgeTemplate:
    """A template by file path, or by name among the saved templates and prompts/ (e.g. 'judge_single')."""
    path = Path(name_or_path)
    if not _is_file(path):
        candidates = [folder / f"{name_or_path}.yaml" for folder in template_folders()]
        path = next((c for c in candidates if _is_file(c)), None)
        if path is None:
            raise TemplateError(f"judge template {shown(str(name_or_path))} not found; known templates: "
                                f"{', '.join(template_names())}")
    return parse_template(read_text_file(path, TemplateError), source=str(path))


def _is_file(path: Path) -> bool:
    # A name with a NUL byte or over the file-name limit is no file: Path.is_file raises on those instead.
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def template_folders() -> list[Path]:
    """Where templates are found by name: the saved templates' folder first, then the shipped prompts/."""
    return list(dict.fromkeys([templates_dir(), PROMPTS_DIR]))


def default_template(mode: str) -> JudgeTemplate:
    if mode not in MODES:
        raise TemplateError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return load_template(DEFAULT_TEMPLATES[mode])


def save_template(text: str, name: str, folder: Path | None = None) -> Path:
    """Validate a template's YAML and save it as NAME.yaml in the saved templates' folder, usable as --template NAME;
    never overwrites a shipped template."""
    clean = (name or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", clean):
        raise TemplateError(f"template name {name!r}: use letters, digits, '_' or '-' (it becomes NAME.yaml)")
    parse_template(text, source=f"{clean}.yaml")
    if (PROMPTS_DIR / f"{clean}.yaml").exists():
        raise TemplateError(f"{clean!r} is a shipped template: save yours under another name")
    folder = Path(folder) if folder else templates_dir()
    path = folder / f"{clean}.yaml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:  # $LLM_JUDGE_TEMPLATES naming a file, a read-only folder
        raise TemplateError(f"cannot save the template as {path} ({exc.strerror or exc}): set $LLM_JUDGE_TEMPLATES to "
                            "a folder you can write to") from exc
    return path


def template_names(mode: str | None = None, shipped_only: bool = False) -> list[str]:
    """Names of every template: shipped (judge_single, judge_pairwise, toxicity, prometheus_absolute, ...) and saved;
    with `mode`, those of that mode only (a file that does not load as a template is left out); with
    `shipped_only`, the shipped ones only."""
    folders = [PROMPTS_DIR] if shipped_only else template_folders()
    names = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})
    return names if mode is None else [name for name in names if _mode_of(name) == mode]


def _mode_of(name: str) -> str | None:
    try:
        return load_template(name).mode
    except TemplateError:
        return None
