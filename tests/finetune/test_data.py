"""finetune/data.py: layouts detected and normalised to chat, unreadable rows counted by reason, and bad data as one
clear error (in the library and the CLI). Nothing is downloaded."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from finetune.data import DataError, detect_layout, load_chats

from finetune_helpers import (
    REPO_ROOT,
    chat,
    run_finetune_cli,
    write_jsonl,
)

# One compute thread per backend and a clean model cache for the module (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread_models")

MESSAGES_ROWS = [{"messages": [{"role": "system", "content": "Be brief."}, *chat("Hi", "Hello!")]},
                 {"messages": chat("2+2?", "4")}]
MESSAGES_CHATS = [[{"role": "system", "content": "Be brief."}, *chat("Hi", "Hello!")], chat("2+2?", "4")]


def _write_messages_jsonl(path):
    return write_jsonl(path.with_suffix(".jsonl"), MESSAGES_ROWS)


def _write_sharegpt_jsonl(path):
    rows = [{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                               {"from": "gpt", "value": "Hello!"}]},
            {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]}]
    return write_jsonl(path.with_suffix(".jsonl"), rows)


ALPACA_ROWS = [{"instruction": "Translate to French.", "input": "cat", "output": "chat"},
               {"instruction": "Say hi.", "input": "", "output": "Hi!"}]
ALPACA_CHATS = [chat("Translate to French.\n\ncat", "chat"), chat("Say hi.", "Hi!")]


def _write_alpaca_jsonl(path):
    return write_jsonl(path.with_suffix(".jsonl"), ALPACA_ROWS)


def _write_prompt_response_jsonl(path):
    return write_jsonl(path.with_suffix(".jsonl"), [{"prompt": "Hi", "response": "Hello!"},
                                                    {"prompt": "2+2?", "response": "4"}])


def _write_messages_csv(path):
    import pandas as pd

    frame = pd.DataFrame({"messages": [json.dumps(r["messages"]) for r in MESSAGES_ROWS], "id": [1, 2]})
    frame.to_csv(path.with_suffix(".csv"), index=False)
    return path.with_suffix(".csv")


def _write_sharegpt_csv(path):
    import pandas as pd

    convs = [[{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}],
             [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]]
    pd.DataFrame({"conversations": [json.dumps(c) for c in convs]}).to_csv(path.with_suffix(".csv"), index=False)
    return path.with_suffix(".csv")


def _write_alpaca_parquet(path):
    import pandas as pd

    pd.DataFrame(ALPACA_ROWS).to_parquet(path.with_suffix(".parquet"))
    return path.with_suffix(".parquet")


def _write_messages_parquet(path):
    import pandas as pd

    pd.DataFrame(MESSAGES_ROWS).to_parquet(path.with_suffix(".parquet"))  # nested list-of-struct column
    return path.with_suffix(".parquet")


LAYOUT_CASES = {
    "messages-jsonl": (_write_messages_jsonl, "messages", MESSAGES_CHATS),
    "sharegpt-jsonl": (_write_sharegpt_jsonl, "sharegpt",
                       [[{"role": "system", "content": "Be brief."}, *chat("Hi", "Hello!")], chat("2+2?", "4")]),
    "alpaca-jsonl": (_write_alpaca_jsonl, "alpaca", ALPACA_CHATS),
    "prompt-response-jsonl": (_write_prompt_response_jsonl, "prompt_response",
                              [chat("Hi", "Hello!"), chat("2+2?", "4")]),
    "messages-csv": (_write_messages_csv, "messages", MESSAGES_CHATS),
    "sharegpt-csv": (_write_sharegpt_csv, "sharegpt", [chat("Hi", "Hello!"), chat("2+2?", "4")]),
    "alpaca-parquet": (_write_alpaca_parquet, "alpaca", ALPACA_CHATS),
    "messages-parquet": (_write_messages_parquet, "messages", MESSAGES_CHATS),
}


@pytest.mark.parametrize("case", list(LAYOUT_CASES))
def test_each_layout_is_detected_and_normalised_to_chat(case, tmp_path):
    write, layout, expected = LAYOUT_CASES[case]
    path = write(tmp_path / case)
    chats, report = load_chats(str(path))
    assert report.layout == layout
    assert chats == expected
    assert (report.rows, report.used, dict(report.skipped)) == (2, 2, {})
    assert report.source == str(path)
    assert report.summary() == f"2 of 2 rows used from {path} ({layout} layout)"


def test_detect_layout_reads_the_columns():
    assert detect_layout([{"messages": []}]) == "messages"
    assert detect_layout([{"conversations": []}]) == "sharegpt"
    assert detect_layout([{"instruction": "x", "output": "y"}]) == "alpaca"  # `input` is optional
    assert detect_layout([{"prompt": "x", "response": "y"}]) == "prompt_response"
    assert detect_layout([{"question": "x", "answer": "y"}]) == ""
    assert detect_layout(["not a row", {"prompt": "x", "response": "y"}]) == "prompt_response"


def test_unreadable_rows_are_counted_by_reason(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        {"messages": chat("Hi", "Hello!")},
        '{"messages": [{"role": "user", "content": "cut off',  # invalid JSON line
        {"messages": chat("Hi", "   ")},  # empty message
        {"messages": [{"role": "user", "content": "Hi"}]},  # no assistant turn
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Anyone?"}]},  # no assistant
        {"messages": chat("2+2?", "4")},
    ])
    chats, report = load_chats(str(path))
    assert chats == [chat("Hi", "Hello!"), chat("2+2?", "4")]
    assert report.rows == 6 and report.used == 2
    assert dict(report.skipped) == {"invalid JSON line": 1, "empty message": 1, "no assistant turn": 2}
    summary = report.summary()
    assert summary.startswith(f"2 of 6 rows used from {path} (messages layout); skipped: ")
    for part in ("2 no assistant turn", "1 invalid JSON line", "1 empty message"):
        assert part in summary
    assert report.to_dict()["skipped"] == dict(report.skipped)


def test_unknown_sharegpt_role_is_counted(tmp_path):
    path = write_jsonl(tmp_path / "sharegpt.jsonl", [
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]},
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "robot", "value": "BEEP"}]},
        {"conversations": [{"from": "Human", "value": "Hi"}, {"from": "ChatGPT", "value": "Hey"}]},  # any case
    ])
    chats, report = load_chats(str(path))
    assert chats == [chat("Hi", "Hello!"), chat("Hi", "Hey")]
    assert (report.rows, report.used) == (3, 2)
    assert dict(report.skipped) == {"unknown ShareGPT role 'robot'": 1}


def test_max_rows_limits_the_rows_read(tmp_path):
    path = write_jsonl(tmp_path / "many.jsonl", [{"prompt": f"q{i}", "response": f"a{i}"} for i in range(5)])
    chats, report = load_chats(str(path), max_rows=3)
    assert [c[0]["content"] for c in chats] == ["q0", "q1", "q2"]
    assert (report.rows, report.used) == (3, 3)


def test_null_alpaca_input_in_parquet_is_treated_as_empty(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "alpaca-null.parquet"
    pq.write_table(pa.table({"instruction": ["Say hi.", "Translate."], "input": [None, "cat"],
                             "output": ["Hi!", "chat"]}), str(path))
    chats, _ = load_chats(str(path))
    assert chats == [chat("Say hi.", "Hi!"), chat("Translate.\n\ncat", "chat")]


def test_a_system_prompt_is_put_first_where_a_conversation_has_none(tmp_path):
    path = _write_messages_jsonl(tmp_path / "mixed")
    chats, _ = load_chats(str(path), system_prompt="You are Pip.")
    # The first row's own system turn stays; the second gets the config's.
    assert chats == [MESSAGES_CHATS[0], [{"role": "system", "content": "You are Pip."}, *chat("2+2?", "4")]]
    assert load_chats(str(path))[0] == MESSAGES_CHATS  # none given: as written


# -------------------------------------------------------------------------------------------------------------- bad data

def test_empty_file_is_a_data_error(tmp_path):
    for name, text in [("empty.jsonl", ""), ("blank.jsonl", "\n  \n\n")]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match="no rows in the data") as caught:
            load_chats(str(path))
        assert str(path) in str(caught.value)


def test_file_of_only_invalid_lines_is_a_data_error(tmp_path):
    path = tmp_path / "garbage.jsonl"
    path.write_text("not json\n{also not\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_chats(str(path))
    assert str(path) in str(caught.value)


def test_wrong_columns_name_what_was_seen_and_what_is_expected(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "Hi", "answer": "Hello!"}])
    with pytest.raises(DataError) as caught:
        load_chats(str(path))
    message = str(caught.value)
    assert str(path) in message
    assert "['answer', 'question']" in message  # the columns it saw
    for expected in ("messages", "conversations", "instruction", "output", "prompt", "response"):
        assert expected in message, message


def test_no_usable_row_is_a_data_error_with_the_reasons(tmp_path):
    path = write_jsonl(tmp_path / "unusable.jsonl", [{"prompt": "Hi", "response": ""}, {"prompt": "", "response": "x"}])
    with pytest.raises(DataError) as caught:
        load_chats(str(path))
    assert "none of the 2 rows could be used" in str(caught.value) and "2 empty message" in str(caught.value)


@pytest.mark.parametrize("name", ["missing.jsonl", "missing.csv", "sub/missing.parquet"])
def test_missing_local_file_is_a_data_error(name, tmp_path):
    path = tmp_path / name
    with pytest.raises(DataError, match="not found") as caught:
        load_chats(str(path))
    assert str(path) in str(caught.value)


def test_missing_relative_file_is_not_taken_for_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="data file 'data/train.jsonl' not found"):
        load_chats("data/train.jsonl")


def test_unsupported_file_type_is_a_data_error(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'"):
        load_chats(str(path))


def test_empty_csv_is_a_data_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError):
        load_chats(str(path))


def test_unknown_hub_dataset_offline_is_a_data_error(tmp_path):
    """`datasets` reads HF_DATASETS_OFFLINE when imported, so this runs in a fresh interpreter."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from finetune.data import DataError, load_chats\n"
        "try:\n"
        "    load_chats('nobody-here/no-such-dataset')\n"
        "    print(json.dumps({'outcome': 'loaded'}))\n"
        "except DataError as exc:\n"
        "    print(json.dumps({'outcome': 'DataError', 'message': str(exc)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "DataError", result
    message = result["message"]
    assert "'nobody-here/no-such-dataset'" in message
    assert "local cache" in message and ".jsonl" in message


def test_cli_empty_file_exits_2_with_one_error_line(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "run"
    done = run_finetune_cli("--data", str(empty), "--out", str(out))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "no rows in the data" in lines[0] and str(empty) in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not out.exists()  # nothing written for a run that never started


def test_cli_bad_setting_exits_2_with_one_error_line(tmp_path):
    done = run_finetune_cli("--max-steps", "10", "--save-steps", "5,20", "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "save_steps [5, 20]" in lines[0], done.stderr
