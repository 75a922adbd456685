"""Human votes on records (runs/votes.py): the append-only votes file, and the judge's agreement with them (analysis/agreement.py)."""
import json

import pytest

from analysis.agreement import judge_agreement
from models import UserFacingError
from runs.votes import VOTES_FILE, read_votes, record_vote


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text("{}")
    (folder / "records.jsonl").write_text("".join(json.dumps({"id": rid, "preset": "p1"}) + "\n"
                                                  for rid in ("prompt-1", "x")))
    return folder


def rec(id_, winner, preset="p1"):
    return {"id": id_, "preset": preset, "winner": winner}


def vote(id_, v, preset="p1"):
    return {"id": id_, "preset": preset, "vote": v}


def test_record_vote_appends_one_line_per_vote_and_never_rewrites(run_dir):
    record_vote(run_dir, "prompt-1", "A", preset="p1", voter="ana")
    first = (run_dir / VOTES_FILE).read_text()
    record_vote(run_dir, "prompt-1", "both_bad")
    text = (run_dir / VOTES_FILE).read_text()
    assert text.startswith(first), "earlier votes are kept byte for byte"
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(v["id"], v["preset"], v["vote"], v["voter"]) for v in lines] == \
        [("prompt-1", "p1", "A", "ana"), ("prompt-1", None, "both_bad", "")]
    assert all(v["time"] for v in lines)
    assert read_votes(run_dir) == lines


@pytest.mark.parametrize("bad", ["a", "C", "", "Both are bad", None])
def test_an_invalid_vote_names_the_allowed_values_and_writes_nothing(run_dir, bad):
    with pytest.raises(UserFacingError, match="A, B, tie, both_bad"):
        record_vote(run_dir, "prompt-1", bad)
    assert not (run_dir / VOTES_FILE).exists()


@pytest.mark.parametrize("record_id, preset", [("no-such-prompt", "p1"), ("prompt-1", "p2")],
                         ids=["a record id the run does not hold", "a preset the record was not run at"])
def test_a_vote_on_a_record_the_run_does_not_hold_is_refused_and_writes_nothing(run_dir, record_id, preset):
    with pytest.raises(UserFacingError, match=f"run run has no record '{record_id}' at preset '{preset}'"):
        record_vote(run_dir, record_id, "A", preset=preset)
    assert not (run_dir / VOTES_FILE).exists()


def test_a_missing_run_folder_is_an_error(tmp_path):
    with pytest.raises(UserFacingError, match="not a run folder"):
        record_vote(tmp_path / "nope", "prompt-1", "A")


def test_read_votes_without_a_file_is_empty_and_skips_a_torn_line(run_dir):
    assert read_votes(run_dir) == []
    record_vote(run_dir, "x", "B")
    with open(run_dir / VOTES_FILE, "a") as f:
        f.write('{"id": "y", "vo')
    assert [v["id"] for v in read_votes(run_dir)] == ["x"]


def test_agreement_and_kappa_match_a_hand_computation():
    # judge:  A  A  B  tie  B   (r6 unparsed, r7 never voted on)
    # human:  A  B  B  tie  tie(both_bad)
    records = [rec("r1", "A"), rec("r2", "A"), rec("r3", "B"), rec("r4", "tie"), rec("r5", "B"),
               rec("r6", None), rec("r7", "A")]
    votes = [vote("r1", "A"), vote("r2", "B"), vote("r3", "B"), vote("r4", "tie"), vote("r5", "both_bad"),
             vote("r6", "A"), vote("zz", "A")]
    result = judge_agreement(records, votes)
    assert result.n_votes == 7
    assert result.n_usable == 5  # r6 has no verdict, zz is not a record, r7 has no vote
    # observed = 3/5 (r1, r3, r4). Judge marginals A 2/5, B 2/5, tie 1/5; human A 1/5, B 2/5, tie 2/5.
    # expected = 2/5*1/5 + 2/5*2/5 + 1/5*2/5 = 8/25; kappa = (15/25 - 8/25) / (17/25) = 7/17
    assert result.agreement == pytest.approx(0.6)
    assert result.kappa == pytest.approx(7 / 17)


def test_the_latest_vote_counts_and_presets_are_separate_records():
    records = [rec("r1", "A", "p1"), rec("r1", "B", "p2")]
    votes = [vote("r1", "B", "p1"), vote("r1", "A", "p1"), vote("r1", "B", "p2")]
    result = judge_agreement(records, votes)
    assert (result.n_usable, result.agreement) == (2, 1.0)
    assert result.kappa == pytest.approx(1.0)


def test_no_usable_votes_gives_none_not_zero():
    result = judge_agreement([rec("r1", "A")], [])
    assert (result.n_usable, result.agreement, result.kappa) == (0, None, None)
