"""Public mode's rules, on their own: the allow-list, the data-file and run checks, the limits, the per-visitor
slots, the logins. The same rules driven through the real app are in tests/ui/test_public_app.py."""
import re
import threading

import pytest

from basics import UserFacingError
from runs.config import CompareConfig
from runs.prompt_sets import PromptItem, single_prompt
from runs.public import (
    PublicLimits,
    PublicModeError,
    PublicPolicy,
    VisitorSlots,
    app_auth,
    load_public_policy,
    public_mode_on,
    shipped_template_texts,
)

POLICY = PublicPolicy(models=("smollm2-135m", "smollm2-135m-gguf"), limits=PublicLimits(), include_shipped=True)


def config(**overrides) -> CompareConfig:
    values = dict(model_a="smollm2-135m", model_b="smollm2-135m-gguf", judge="smollm2-135m-judge")
    values.update(overrides)
    return CompareConfig(**values)


def test_the_shipped_allow_list_loads_and_offers_the_embedded_models_and_shipped_judges():
    policy = load_public_policy()
    offered = policy.allowed_models()
    assert {"smollm2-135m", "smollm2-135m-gguf", "smollm2-135m-judge", "toxicity"} <= set(offered)
    assert not any(spec.startswith(("/", "~", ".")) for spec in offered)


@pytest.mark.parametrize("env, expected", [
    ({}, False), ({"SPACE_ID": "user/space"}, True), ({"SPACE_ID": "user/space", "LLM_JUDGE_PUBLIC": "0"}, False),
    ({"LLM_JUDGE_PUBLIC": "1"}, True), ({"LLM_JUDGE_PUBLIC": "yes"}, True),
])
def test_public_mode_is_on_on_a_space_and_where_asked(monkeypatch, env, expected):
    for name in ("SPACE_ID", "LLM_JUDGE_PUBLIC"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert public_mode_on() is expected


def test_a_server_path_is_refused_by_its_text_alone_whether_or_not_it_exists(tmp_path):
    existing, missing = str(tmp_path), str(tmp_path / "missing")
    messages = []
    for spec in (existing, missing, f"smollm2-135m-gguf+{existing}/x.gguf", "~root/model", "org/some-model"):
        with pytest.raises(PublicModeError) as caught:
            POLICY.check_compare(config(model_b=spec), [single_prompt("hi")])
        messages.append(re.sub(r"^Model B .*? is not offered", "SPEC is not offered", str(caught.value)))
    assert len(set(messages)) == 1, messages  # the same answer for every refused spec
    assert "not offered on this shared app" in messages[0] and "smollm2-135m-gguf" in messages[0]


@pytest.mark.parametrize("change, expected", [
    (dict(config=config(sampling=config().sampling.with_(max_new_tokens=4096))), "over this shared app's limit of 512"),
    (dict(items=[single_prompt("x" * 4001)]), "at most 4,000"),
    (dict(config=config(system_b="x" * 4001)), "the system prompt for Model B has 4,001 characters"),
    (dict(items=[PromptItem(id="q", prompt="hi", system="x" * 4001)]), "system prompt of prompt 'q' has 4,001"),
    (dict(items=[single_prompt("hi")] * 51), "set Limit to 50 or less"),
    (dict(config=config(template_text="name: x\nmode: single\ntemplate: '{prompt} {answer}'\n"
                                      "output_format: 'Relevance: <1-4>'")), "editing the judge template is off"),
    (dict(config=config(template="judge_single")), "cannot be chosen"),
    (dict(config=config(more_judges=["openai:gpt@http://169.254.169.254/v1"])), "not offered"),
])
def test_requests_beyond_the_limits_are_refused_before_anything_runs(change, expected):
    with pytest.raises(PublicModeError, match=expected):
        POLICY.check_compare(change.get("config", config()), change.get("items", [single_prompt("hi")]))


def test_the_shipped_templates_as_the_page_shows_them_are_accepted():
    from judge.templates import default_template

    POLICY.check_compare(config(template_text=default_template("single").to_yaml()), [single_prompt("hi")])
    assert len(shipped_template_texts()) >= 3


def test_a_data_file_is_a_shipped_set_or_an_upload_never_another_server_path(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    uploaded = uploads / "set.csv"
    uploaded.write_text("id,prompt\n1,hi\n", encoding="utf-8")
    secret = tmp_path / "secrets.csv"
    secret.write_text("api_key,token,password\n", encoding="utf-8")
    assert POLICY.check_data_file("study", uploads, (".csv",)) == "study"
    assert POLICY.check_data_file(str(uploaded), uploads, (".csv",)) == str(uploaded)
    for value in (str(secret), str(tmp_path / "nope.csv"), f"{uploads}/../secrets.csv", "/etc/passwd"):
        with pytest.raises(PublicModeError, match="one you upload") as caught:
            POLICY.check_data_file(value, uploads, (".csv",))
        assert "api_key" not in str(caught.value)


def test_a_run_is_named_inside_the_results_folder_only(results_dir, tmp_path):
    run = results_dir / "20260101-000000-public-test"
    run.mkdir(parents=True, exist_ok=True)
    (run / "run.json").write_text("{}")
    (results_dir / ".cache").mkdir(exist_ok=True)  # a folder in there that is no run
    assert POLICY.check_run(run.name) == str(run.resolve())
    assert POLICY.check_run(str(run)) == str(run.resolve())
    for value in (str(tmp_path), "../", "/root/.ssh", "", str(results_dir), str(results_dir / ".cache"), 5, None):
        with pytest.raises(PublicModeError, match="pick one from the list"):
            POLICY.check_run(value)


def test_an_allow_list_with_unknown_keys_or_bad_limits_is_an_error(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text("models: [smollm2-135m]\nlimits: {prompt_char: 10}\n", encoding="utf-8")
    with pytest.raises(UserFacingError, match="unknown keys limits.prompt_char"):
        load_public_policy(bad)
    bad.write_text("models: [smollm2-135m]\nlimits: {prompt_chars: 0}\n", encoding="utf-8")
    with pytest.raises(UserFacingError, match="at least 1"):
        load_public_policy(bad)


def test_one_visitor_gets_a_limited_number_of_requests_and_others_are_not_held_up():
    slots = VisitorSlots(per_visitor=1)
    with slots.slot("a"):
        with pytest.raises(PublicModeError, match="already have 1 request"):
            with slots.slot("a"):
                pass
        with slots.slot("b"):  # another visitor is not held up
            pass
    with slots.slot("a"):  # freed when the request ended
        pass
    barrier, errors = threading.Barrier(8), []

    def visit(name):
        barrier.wait()
        try:
            with slots.slot(name):
                pass
        except PublicModeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=visit, args=(f"v{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_logins_come_from_the_environment_and_are_never_echoed(monkeypatch, tmp_path):
    monkeypatch.delenv("LLM_JUDGE_AUTH_FILE", raising=False)
    monkeypatch.delenv("LLM_JUDGE_AUTH", raising=False)
    assert app_auth() is None
    monkeypatch.setenv("LLM_JUDGE_AUTH", "ana:s3cret, bo:pa:ss")
    assert app_auth() == [("ana", "s3cret"), ("bo", "pa:ss")]
    monkeypatch.setenv("LLM_JUDGE_AUTH", "ana-without-password-s3cret")
    with pytest.raises(UserFacingError, match="user:password") as caught:
        app_auth()
    assert "s3cret" not in str(caught.value)
    logins = tmp_path / "logins.txt"
    logins.write_text("cy:hunter2\n", encoding="utf-8")
    monkeypatch.setenv("LLM_JUDGE_AUTH_FILE", str(logins))
    assert app_auth() == [("cy", "hunter2")]
