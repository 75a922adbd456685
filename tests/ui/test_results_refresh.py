"""The Results tab's run list when the tab is shown again: the run the page opened on gives way to a newer one, a run
the person picked stays picked while it exists."""
from ui.results_tab import refresh

from run_builders import RUN1, write_run


def test_the_tab_follows_the_newest_run_unless_one_was_picked(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(tmp_path))
    older = write_run(tmp_path, "older", "2026-01-01T00:00:00+00:00", RUN1).name
    newer = write_run(tmp_path, "newer", "2026-01-02T00:00:00+00:00", RUN1).name

    opened_on, _ = refresh(older, None, None)  # the page opened on `older`; `newer` was saved since
    assert opened_on.value == newer
    kept, earlier = refresh(older, None, older)  # the person picked `older`: it stays, its value not even sent,
    assert "value" not in kept.constructor_args  # so a pick made while this refresh ran is not put back
    assert [value for _, value in kept.choices] == [newer, older]
    assert newer in [value for _, value in earlier.choices] and older not in [v for _, v in earlier.choices]
    gone, _ = refresh("deleted-run", None, "deleted-run")  # a picked run deleted since: the newest instead
    assert gone.value == newer


def test_a_refresh_that_changes_nothing_sends_no_value(tmp_path, monkeypatch):
    # Asked while the newest run was shown; the person then picked another run before it answered: the answer must
    # not carry the newest run back into the picker.
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(tmp_path))
    write_run(tmp_path, "older", "2026-01-01T00:00:00+00:00", RUN1)
    newer = write_run(tmp_path, "newer", "2026-01-02T00:00:00+00:00", RUN1).name
    stale, _ = refresh(newer, None, None)
    assert "value" not in stale.constructor_args and newer in [value for _, value in stale.choices]
