"""judge/templates.py: the shipped YAML templates, rendering, and validation errors raised before any model runs."""
import pytest
import yaml

from basics import UserFacingError
from judge.parsing import parse_pairwise_reply, parse_single_reply
from judge.templates import (
    PROMPTS_DIR,
    JudgeTemplate,
    TemplateError,
    default_template,
    load_template,
    parse_template,
    placeholders,
)

CRITERIA = ("relevance", "coherence", "completeness")
OUTPUT_FORMAT = "Relevance: <1-4>\nCoherence: <1-4>\nCompleteness: <1-4>\n"


def template_yaml(**fields) -> str:
    """A valid single-mode template as YAML, with `fields` replacing (or, when None, removing) its entries."""
    data = {
        "name": "t", "mode": "single", "criteria": list(CRITERIA), "scale": [1, 4], "system": "Be fair.",
        "template": "Q: {prompt}\nA: {answer}\n{output_format}", "output_format": OUTPUT_FORMAT,
    }
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


# --------------------------------------------------------------------------------------------- shipped templates

@pytest.mark.parametrize("loader, mode, name", [
    (lambda: load_template("judge_single"), "single", "rubric-single"),
    (lambda: load_template("judge_pairwise"), "pairwise", "rubric-pairwise"),
    (lambda: default_template("single"), "single", "rubric-single"),
    (lambda: default_template("pairwise"), "pairwise", "rubric-pairwise"),
    (lambda: load_template(PROMPTS_DIR / "judge_single.yaml"), "single", "rubric-single"),
    (lambda: load_template(str(PROMPTS_DIR / "judge_pairwise.yaml")), "pairwise", "rubric-pairwise"),
], ids=["single by name", "pairwise by name", "default single", "default pairwise", "single by Path",
        "pairwise by str path"])
def test_shipped_templates_load(loader, mode, name):
    template = loader()
    assert isinstance(template, JudgeTemplate)
    assert template.mode == mode
    assert template.name == name
    assert template.criteria == CRITERIA
    assert template.scale == (1, 4)
    assert template.system.strip()
    assert template.source.endswith(".yaml")


def test_render_single_fills_placeholders_and_output_format():
    template = load_template("judge_single")
    messages = template.render(prompt="What is 2+2?", answer="It is 4.")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == template.system.strip()
    user = messages[1]["content"]
    assert "What is 2+2?" in user
    assert "It is 4." in user
    assert template.output_format.strip() in user
    assert "{" not in user and "}" not in user  # every placeholder was filled


def test_render_pairwise_keeps_a_and_b_in_their_slots():
    template = default_template("pairwise")
    messages = template.render(prompt="PROMPT-X", answer_a="FIRST-ANSWER", answer_b="SECOND-ANSWER")
    user = messages[-1]["content"]
    assert user.index("PROMPT-X") < user.index("FIRST-ANSWER") < user.index("SECOND-ANSWER")
    assert template.output_format.strip() in user
    assert "{answer_a}" not in user and "{answer_b}" not in user


def test_render_inserts_answer_text_literally():
    # An answer with braces or placeholder-like text must be inserted as is, never formatted a second time.
    template = load_template("judge_single")
    answer = "Use {prompt} and {output_format} and a dict {'k': 1} and {{double}}"
    user = template.render(prompt="p", answer=answer)[-1]["content"]
    assert answer in user


def test_render_output_format_cannot_be_overridden():
    template = load_template("judge_single")
    user = template.render(prompt="p", answer="a", output_format="SCORE ME 4")[-1]["content"]
    assert "SCORE ME 4" not in user
    assert template.output_format.strip() in user


def test_render_optional_reference():
    template = parse_template(template_yaml(template="{prompt}|{answer}|REF={reference}|{output_format}"))
    assert "REF=gold" in template.render(prompt="p", answer="a", reference="gold")[-1]["content"]
    assert "REF=|" in template.render(prompt="p", answer="a")[-1]["content"]


def test_render_without_system_text_has_only_the_user_message():
    template = parse_template(template_yaml(system=None))
    messages = template.render(prompt="p", answer="a")
    assert [m["role"] for m in messages] == ["user"]


@pytest.mark.parametrize("name", ["judge_single", "judge_pairwise"])
def test_shipped_output_format_is_what_the_parser_reads(name):
    # The example line format in the template must itself be parseable once filled with numbers.
    template = load_template(name)
    filled = template.output_format.replace("<1-4>", "3").replace("[[A]] or [[B]] or [[tie]]", "[[tie]]")
    parse = parse_single_reply if template.mode == "single" else parse_pairwise_reply
    parsed = parse(filled, template.criteria, template.scale)
    if template.mode == "single":
        assert parsed.scores == {c: 3 for c in CRITERIA}
    else:
        assert (parsed.verdict, parsed.scores_a, parsed.scores_b) == ("tie", {c: 3 for c in CRITERIA}, {c: 3 for c in CRITERIA})


def test_to_yaml_round_trips():
    template = load_template("judge_pairwise")
    again = parse_template(template.to_yaml())
    assert again.to_dict() == template.to_dict()
    assert again.sha256 == template.sha256


# --------------------------------------------------------------------------------------------- sha256

def test_sha256_is_stable_for_the_same_text():
    assert parse_template(template_yaml()).sha256 == parse_template(template_yaml()).sha256
    assert len(parse_template(template_yaml()).sha256) == 64


@pytest.mark.parametrize("change", [
    {"template": "Q: {prompt}\nA: {answer}\n{output_format}\n"},
    {"template": "Question: {prompt}\nA: {answer}\n{output_format}"},
    {"system": "Be strict."},
    {"output_format": OUTPUT_FORMAT + "Reasons: <text>\n"},
    {"scale": [1, 5]},
    {"name": "t2"},
    {"description": "new"},
], ids=["trailing newline", "template word", "system", "output_format", "scale", "name", "description"])
def test_sha256_changes_when_the_template_changes(change):
    assert parse_template(template_yaml(**change)).sha256 != parse_template(template_yaml()).sha256


# --------------------------------------------------------------------------------------------- validation errors

PAIRWISE_TEMPLATE = "{prompt} A: {answer_a} B: {answer_b}"

TEMPLATE_ERRORS = [
    ("single without {answer}", template_yaml(template="Q: {prompt}"), "must contain {answer}"),
    ("single without {prompt}", template_yaml(template="A: {answer}"), "must contain {prompt}"),
    ("single with pairwise slots", template_yaml(template=PAIRWISE_TEMPLATE), "must contain {answer}"),
    ("pairwise without {answer_b}", template_yaml(mode="pairwise", template="{prompt} A: {answer_a}"),
     "must contain {answer_b}"),
    ("pairwise with single slot", template_yaml(mode="pairwise", template="{prompt} {answer}"),
     "must contain {answer_a}, {answer_b}"),
    ("pairwise with extra {answer}", template_yaml(mode="pairwise", template=PAIRWISE_TEMPLATE + " {answer}"),
     "unknown placeholder(s) {answer}"),
    ("unknown placeholder", template_yaml(template="{prompt} {answer} {foo}"), "unknown placeholder(s) {foo}"),
    ("positional placeholder", template_yaml(template="{prompt} {answer} {}"), "only bare names"),
    ("attribute placeholder", template_yaml(template="{prompt} {answer} {answer.upper}"),
     "placeholder '{answer.upper}' is not allowed: only bare names such as {answer}"),
    ("index placeholder", template_yaml(template="{prompt[0]} {answer}"), "write {prompt}"),
    ("format width", template_yaml(template="{prompt:>99999999999} {answer}"), "'{prompt:>99999999999}'"),
    ("conversion", template_yaml(template="{prompt} {answer!r}"), "no format spec ':...', conversion '!r'"),
    ("nested placeholder in a spec", template_yaml(template="{prompt:{answer}} {answer}"), "only bare names"),
    ("format spec in system", template_yaml(system="Be {x:>9}"), "system: placeholder '{x:>9}'"),
    ("template is a list", template_yaml(template=["{prompt}", "{answer}"]),
     "template must be text, got a list ['{prompt}', '{answer}']; write it as a YAML string"),
    ("output_format is a list", template_yaml(output_format=["Relevance: <1-4>"]), "output_format must be text"),
    ("output_format is a mapping", template_yaml(output_format={"relevance": "<1-4>"}),
     "output_format must be text, got a mapping"),
    ("template is a number", template_yaml(template=12), "template must be text, got a number 12"),
    ("mode is a list", template_yaml(mode=["single"]), "mode must be text"),
    ("system is a mapping", template_yaml(system={"a": 1}), "system must be text"),
    ("description is a list", template_yaml(description=[1]), "description must be text"),
    ("name is a mapping", template_yaml(name={"a": 1}), "name must be text, got a mapping"),
    ("output_format range too wide", template_yaml(output_format=OUTPUT_FORMAT + "Total: <1-99999999999>"),
     "range <1-99999999999> cannot be a score slot"),
    ("output_format range reversed", template_yaml(output_format=OUTPUT_FORMAT + "Total: <9-1>"), "low <= high"),
    ("YAML value its constructor refuses", template_yaml() + "when: 2001-13-14\n", "not valid YAML (ValueError"),
    ("YAML nested too deeply", "a: " + "[" * 5000, "nest lists and mappings less deeply"),
    ("bad mode", template_yaml(mode="triple"), "mode must be one of single, pairwise, label, got 'triple'"),
    ("missing name", template_yaml(name=None), "missing field(s) name"),
    ("missing mode", template_yaml(mode=None), "missing field(s) mode"),
    ("missing template", template_yaml(template=None), "missing field(s) template"),
    ("missing output_format", template_yaml(output_format=None), "missing field(s) output_format"),
    ("several missing", template_yaml(template=None, output_format=None), "template, output_format"),
    ("empty template", template_yaml(template=""), "missing field(s) template"),
    ("invalid YAML", "name: [unclosed\nmode: single", "not valid YAML"),
    ("YAML list, not a mapping", "- name\n- mode\n", "expected a YAML mapping"),
    ("empty text", "", "expected a YAML mapping"),
    ("stray open brace", template_yaml(template="{prompt} {answer} {"), "write a literal brace"),
    ("stray close brace", template_yaml(template="{prompt} {answer} }"), "write a literal brace"),
    ("placeholder in system", template_yaml(system="Grade {answer} kindly"), "system text takes no placeholders"),
    ("stray brace in system", template_yaml(system="a { b"), "write a literal brace"),
    ("scale reversed", template_yaml(scale=[4, 1]), "low < high"),
    ("scale flat", template_yaml(scale=[3, 3]), "low < high"),
    ("scale three numbers", template_yaml(scale=[1, 2, 3]), "scale must be [low, high]"),
    ("output_format lacks completeness", template_yaml(output_format="Relevance: <1-4>\nCoherence: <1-4>\n"),
     "criterion 'completeness'"),
    ("output_format lacks a custom criterion", template_yaml(criteria=["relevance", "style"]),
     "criterion 'style'"),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in TEMPLATE_ERRORS], ids=[c[0] for c in TEMPLATE_ERRORS])
def test_parse_template_errors(text, message):
    with pytest.raises(TemplateError) as info:
        parse_template(text, source="bad.yaml")
    assert message in str(info.value)


@pytest.mark.parametrize("text", [c[1] for c in TEMPLATE_ERRORS if "brace" not in c[0]],
                         ids=[c[0] for c in TEMPLATE_ERRORS if "brace" not in c[0]])
def test_template_errors_name_the_source(text):
    with pytest.raises(TemplateError, match="^bad.yaml: "):
        parse_template(text, source="bad.yaml")


@pytest.mark.parametrize("scale", ["[a, b]", "4", "[one, 4]"], ids=["letters", "scalar", "word"])
def test_non_numeric_scale_is_a_template_error(scale):
    # Every malformed template must raise TemplateError (a UserFacingError), not a bare ValueError/TypeError.
    text = template_yaml(scale=None) + f"scale: {scale}\n"
    with pytest.raises(TemplateError, match="scale"):
        parse_template(text, source="bad.yaml")


def test_criteria_given_as_one_string_is_not_split_into_letters():
    text = template_yaml(criteria=None) + "criteria: relevance\n"
    try:
        template = parse_template(text)
    except TemplateError:
        return  # refusing it is fine too
    assert template.criteria == ("relevance",)


def test_template_error_is_user_facing():
    assert issubclass(TemplateError, UserFacingError)


def test_criteria_and_scale_defaults():
    template = parse_template(template_yaml(criteria=None, scale=None))
    assert template.criteria == CRITERIA
    assert template.scale == (1, 4)


def test_criteria_are_normalised_to_lower_case():
    template = parse_template(template_yaml(criteria=["Relevance", " Coherence ", "COMPLETENESS"]))
    assert template.criteria == CRITERIA


def test_escaped_braces_are_allowed():
    template = parse_template(template_yaml(template="{prompt} {answer} as JSON {{\"score\": 1}}"))
    assert 'as JSON {"score": 1}' in template.render(prompt="p", answer="a")[-1]["content"]


@pytest.mark.parametrize("text, expected", [
    ("{prompt} and {answer}", {"prompt", "answer"}),
    ("no placeholders", set()),
    ("{{escaped}} {reference}", {"reference"}),
])
def test_placeholders(text, expected):
    assert placeholders(text) == expected


# --------------------------------------------------------------------------------------------- loading by name

def test_unknown_template_name_lists_known_templates():
    with pytest.raises(TemplateError) as info:
        load_template("judge_nonexistent")
    message = str(info.value)
    assert "'judge_nonexistent' not found" in message
    assert "judge_single" in message and "judge_pairwise" in message


def test_bad_default_mode():
    with pytest.raises(TemplateError, match="mode must be one of single, pairwise"):
        default_template("triple")


def test_load_template_from_a_file(tmp_path):
    path = tmp_path / "custom.yaml"
    path.write_text(template_yaml(name="custom"), encoding="utf-8")
    template = load_template(path)
    assert template.name == "custom"
    assert template.source == str(path)


def test_load_template_file_error_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(template_yaml(template="{prompt} only"), encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert str(path) in str(info.value)
    assert "{answer}" in str(info.value)


def test_sha256_changes_when_the_file_changes(tmp_path):
    path = tmp_path / "custom.yaml"
    path.write_text(template_yaml(), encoding="utf-8")
    before = load_template(path).sha256
    path.write_text(template_yaml(template="Q: {prompt}\nGrade: {answer}\n{output_format}"), encoding="utf-8")
    assert load_template(path).sha256 != before



def test_a_template_is_shown_as_its_author_wrote_it_and_hashed_by_content():
    written = (PROMPTS_DIR / "judge_single.yaml").read_text(encoding="utf-8")
    template = default_template("single")
    assert template.to_yaml() == written  # comments and layout kept: no re-dumped, double-spaced YAML
    redumped = parse_template(template.canonical_yaml())
    assert redumped.sha256 == template.sha256 and redumped.to_dict() == template.to_dict()
