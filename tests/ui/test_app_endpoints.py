"""The app with served models (a real llama.cpp server on 127.0.0.1): a panel of a served and a local judge, the
page naming who served what, and a server that cannot be reached as a clear error."""
import json
from pathlib import Path

import pytest
from gradio_client import Client
from servers import LLAMA_ALIAS
from test_app_client import compare_args

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_a_served_model_and_a_panel_through_the_app(client, llama_server):
    # No reasons asked (the page's default asks each judge for them after its scores) and one answer order: other
    # app tests cover both
    args = compare_args(model_a=f"openai:{LLAMA_ALIAS}", judge=f"openai:{LLAMA_ALIAS}", mode="pairwise",
                        more_judges=["smollm2-135m-gguf"], base_url=llama_server, judge_reasons=False, swap=False)
    answer_a, _, verdict, _, reasons, status = client.predict(**args, api_name="/compare")
    assert answer_a.strip()
    assert f"A: openai {LLAMA_ALIAS} at {llama_server}" in status and "judges: openai" in status and \
        "llamacpp" in status
    folder = Path(status.split("Saved to `")[1].split("`")[0])
    record = json.loads((folder / "records.jsonl").read_text())
    assert record["model_a"] == f"openai:{LLAMA_ALIAS}@{llama_server}"  # the box's URL filled the spec in
    assert record["panel"]["size"] == 2 and record["judge"].endswith(" | smollm2-135m-gguf")


def test_an_unreachable_server_is_a_clear_error(client, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_RETRIES", "0")  # the app runs in this process: it reads the variable at load
    with pytest.raises(Exception, match="cannot reach http://127.0.0.1:9/v1 .*is the server running"):
        client.predict(**compare_args(model_b="openai:m@http://127.0.0.1:9/v1"), api_name="/compare")


def test_the_judge_lab_validates_a_panel_of_a_served_and_a_local_judge(client, llama_server):
    served = f"openai:{LLAMA_ALIAS}@{llama_server}"
    result = client.predict(data="prompts/validation/good_vs_broken_pairs.jsonl", mode="pairwise", template_text="",
                            judges=[served, "smollm2-135m-gguf"], methods=["probabilities"], limit=2, panel=True,
                            api_name="/validate")
    status, table = result[0], result[1]
    assert "Finished" in status
    rows = {row[0]: row for row in table["value"]["data"]}
    headers = table["value"]["headers"]
    assert served in rows and "smollm2-135m-gguf" in rows
    panel = rows[f"{served} | smollm2-135m-gguf"]
    assert panel[headers.index("judges counted")] == "2.000"  # both judges' verdicts counted on every row
    assert "panel α (Krippendorff)" in headers
