"""A shared app's allow-list, run names and data files, tried as a hostile visitor would (issue 25, item 2), one named
case each: letter case, whitespace, look-alike characters, appended adapters, scoring-judge and scripted prefixes, a
served model at another URL (link-local, file://), run names with '..', absolute paths and symlinks, files outside
the upload folder and uploads over the size limit.

Every refusal is the policy's own error (a gr.Error on the page) saying what the app offers, and reads the same
whether or not what was named exists on the server. The same rules through the running app: test_api_input_cases.py.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from basics import REPO_ROOT, UserFacingError
from models.endpoints import with_base_url
from runs import public
from runs.public import PublicLimits, PublicModeError, PublicPolicy, hide_server_paths

SERVED = "openai:gpt-4o-mini@https://router.huggingface.co/v1"
POLICY = PublicPolicy(models=("smollm2-135m-gguf", "openai:gpt-4o-mini", SERVED), limits=PublicLimits(),
                      include_shipped=True)
NOT_OFFERED = "is not offered on this shared app: pick one of"

# (case, in the issue's words) -> the spec a visitor sends
SPEC_CASES = [
    pytest.param("SMOLLM2-135M-GGUF", id="an allowed alias in capitals"),
    pytest.param("Smollm2-135m-gguf", id="an allowed alias with one capital"),
    pytest.param("smollm2-135m-gguf\u200b", id="an allowed alias with a zero-width space"),
    pytest.param("smollm2\u2011135m-gguf", id="an allowed alias with a non-breaking hyphen"),
    pytest.param("sm\u043ellm2-135m-gguf", id="an allowed alias with a Cyrillic o"),
    pytest.param("\uff53\uff4d\uff4f\uff4c\uff4c\uff4d\uff12-135m-gguf", id="an allowed alias in fullwidth letters "
                                                                            "(NFKC folds them to the alias)"),
    pytest.param("smollm2-135m-gguf+/etc", id="an allowed base with an adapter path appended"),
    pytest.param("smollm2-135m-gguf+org/lora", id="an allowed base with a hub adapter appended"),
    pytest.param("smollm2-135m-gguf +x", id="an allowed base with a space and an adapter appended"),
    pytest.param("head:adapters/shipped/smollm2-135m-judge", id="a shipped judge named by its head: folder"),
    pytest.param(f"head:{REPO_ROOT}/adapters/shipped/smollm2-135m-judge", id="a shipped judge by its absolute folder"),
    pytest.param("scripted:any reply I like", id="a scripted model"),
    pytest.param("scripted:@/etc/passwd", id="a scripted model reading a server file"),
    pytest.param("reward:/root", id="a reward model from a server folder"),
    pytest.param("openai:gpt-4o-mini@http://169.254.169.254/v1", id="an allowed served model at a link-local URL"),
    pytest.param("openai:gpt-4o-mini@http://127.0.0.1:22/v1", id="an allowed served model at a local port"),
    pytest.param("openai:gpt-4o-mini@file:///etc/passwd", id="an allowed served model at a file:// URL"),
    pytest.param("openai:gpt-4o-mini@https://router.huggingface.co/v1/../../x", id="the allowed URL with ../ after it"),
    pytest.param("openai:gpt-4o-mini@HTTPS://ROUTER.HUGGINGFACE.CO/v1", id="the allowed URL in capitals"),
    pytest.param("/work/main/adapters/shipped/toxicity", id="a shipped judge by its path"),
    pytest.param("toxicity/../smollm2-135m-judge", id="a shipped judge's name with ../"),
]


@pytest.mark.parametrize("spec", SPEC_CASES)
def test_a_look_alike_or_extended_spec_is_refused_with_what_the_app_offers(spec):
    with pytest.raises(PublicModeError) as caught:
        POLICY.check_model(spec, "Model A")
    message = str(caught.value)
    assert NOT_OFFERED in message and "smollm2-135m-gguf" in message
    assert "\n" not in message and spec not in message.split("pick one of")[1]


@pytest.mark.parametrize("spec", [5, 1.5, ["smollm2-135m-gguf"], {"spec": "smollm2-135m-gguf"}, None, True],
                         ids=["a number", "a float", "a list holding an allowed spec", "a mapping", "null", "true"])
def test_a_spec_that_is_not_text_is_refused_like_any_other(spec):
    with pytest.raises(PublicModeError, match=NOT_OFFERED):
        POLICY.check_model(spec, "judge")


@pytest.mark.parametrize("spec", [" smollm2-135m-gguf", "smollm2-135m-gguf\t", "\u00a0smollm2-135m-gguf\u00a0"],
                         ids=["a leading space", "a trailing tab", "non-breaking spaces around"])
def test_whitespace_around_an_allowed_spec_is_the_same_allowed_model(spec):
    """Not a way round the list: the loader strips the same whitespace, so the model run is the one offered."""
    from models.spec import parse_model_spec

    assert POLICY.check_model(spec) == "smollm2-135m-gguf"
    assert parse_model_spec(spec).text == "smollm2-135m-gguf"


@pytest.mark.parametrize("base_url", ["http://169.254.169.254/v1", "file:///etc/passwd", "http://[::1]:8000/v1"],
                         ids=["link-local base URL", "file:// base URL", "loopback IPv6 base URL"])
def test_a_base_url_sent_beside_an_allowed_served_model_makes_it_another_model(base_url):
    """The app fills the base URL in before the check (ui/compare_tab.py), so the spec checked is the one that runs."""
    # Either the allow-list refuses the spec it makes, or the URL is refused on its own (no http(s): file://).
    with pytest.raises(UserFacingError, match=f"{NOT_OFFERED}|is not an http\\(s\\) URL"):
        POLICY.check_model(with_base_url("openai:gpt-4o-mini", base_url), "judge")
    assert POLICY.check_model(with_base_url(SERVED, base_url)) == SERVED  # a spec naming its URL keeps it


# --------------------------------------------------------------------------------------------- runs by name

@pytest.fixture
def results(tmp_path, monkeypatch):
    root = tmp_path / "results"
    run = root / "20260101-000000-mine"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{}")
    (root / ".cache").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "run.json").write_text("{}")
    (root / "20260101-000001-link").symlink_to(outside)
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(root))
    return root


RUN_CASES = [
    pytest.param("../outside", id="a run name with .."),
    pytest.param("20260101-000000-mine/../../outside", id="a run name that climbs out through a run"),
    pytest.param("{tmp}/outside", id="an absolute path outside the results folder"),
    pytest.param("20260101-000001-link", id="a symlink inside the results folder to a run outside it"),
    pytest.param(".cache", id="a folder in the results folder that is no run"),
    pytest.param("{tmp}/results/.cache", id="the absolute path of a folder in there that is no run"),
    pytest.param("{tmp}/results", id="the results folder itself"),
    pytest.param("/etc", id="a server folder"),
    pytest.param("", id="an empty run name"),
    pytest.param(7, id="a number for a run name"),
]


@pytest.mark.parametrize("name", RUN_CASES)
def test_a_run_outside_the_results_folder_or_no_run_at_all_is_refused_alike(results, name):
    name = name.replace("{tmp}", str(results.parent)) if isinstance(name, str) else name
    with pytest.raises(PublicModeError) as caught:
        POLICY.check_run(name)
    assert str(caught.value).endswith("on this shared app: pick one from the list")


def test_a_run_in_the_results_folder_is_found_by_name_or_path(results):
    run = results / "20260101-000000-mine"
    assert POLICY.check_run(run.name) == POLICY.check_run(str(run)) == str(run.resolve())


# --------------------------------------------------------------------------------------------- data files

@pytest.fixture
def uploads(tmp_path):
    folder = tmp_path / "gradio-uploads"
    (folder / "abc").mkdir(parents=True)
    (folder / "abc" / "set.jsonl").write_text('{"prompt": "hi"}\n')
    (folder / "abc" / "big.jsonl").write_bytes(b'{"prompt": "hi"}\n' * 300_000)  # 5.1 MB
    (tmp_path / "secret.jsonl").write_text('{"prompt": "api_key=x"}\n')
    (folder / "abc" / "link.jsonl").symlink_to(tmp_path / "secret.jsonl")
    return folder


DATA_CASES = [
    pytest.param("{tmp}/secret.jsonl", "one you upload", id="a server file outside the upload folder"),
    pytest.param("{up}/abc/link.jsonl", "one you upload", id="a symlink in the upload folder to a server file"),
    pytest.param("{up}/abc/../../secret.jsonl", "one you upload", id="an upload path climbing out with .."),
    pytest.param("{up}/abc/set.csv", "one you upload", id="an upload that does not exist"),
    pytest.param("{up}/abc/set.jsonl.txt", "one you upload", id="an upload with another suffix"),
    pytest.param("/etc/passwd", "one you upload", id="/etc/passwd as a prompt set"),
    pytest.param(["study"], "one you upload", id="a list holding a shipped set's name"),
    pytest.param("{up}/abc/big.jsonl", "has 5,100,000 bytes; this shared app takes files of at most 4,000,000",
                 id="an upload over the size limit, refused before it is read"),
]


@pytest.mark.parametrize("value, expected", DATA_CASES)
def test_a_data_file_is_a_shipped_set_or_a_small_upload_only(uploads, value, expected, monkeypatch):
    if isinstance(value, str):
        value = value.replace("{tmp}", str(uploads.parent)).replace("{up}", str(uploads))
    read = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or b"")
    with pytest.raises(PublicModeError, match=expected):
        POLICY.check_data_file(value, uploads, (".jsonl",))
    assert read == [], "refused before any byte of the file is read"


def test_a_small_upload_and_a_shipped_set_are_taken(uploads):
    upload = str(uploads / "abc" / "set.jsonl")
    assert POLICY.check_data_file(upload, uploads, (".jsonl",)) == upload
    assert POLICY.check_data_file(" study ", uploads, (".jsonl",)) == "study"


# --------------------------------------------------------------------------------------------- what a message shows

def test_a_shared_app_names_server_folders_short_in_its_messages(results, monkeypatch):
    monkeypatch.setattr(public, "_GATE", public.PublicGate(POLICY, public.VisitorSlots(1)))
    run = results / "20260101-000000-mine"
    text = (f"{run} already finished; the template {REPO_ROOT}/prompts/x.yaml, the upload /tmp/gradio/abc/set.jsonl, "
            f"{os.path.realpath(run)}")
    shown = hide_server_paths(text, "/tmp/gradio")
    assert str(results) not in shown and str(REPO_ROOT) not in shown and "/tmp/gradio" not in shown
    assert shown.startswith("results/20260101-000000-mine already finished; the template app/prompts/x.yaml, the "
                            "upload uploads/abc/set.jsonl")
    monkeypatch.setattr(public, "_GATE", None)
    assert hide_server_paths(text, "/tmp/gradio") == text  # a private app's user sees the real paths
