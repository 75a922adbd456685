"""Several visitors at once through gradio_client, on the real models: every request completes and each visitor
gets exactly the answers it gets alone (same seed, same backend), never another visitor's. The timings and the
16-visitor figures are benchmarks/load_test.py's."""
import pytest

from benchmarks.load_test import visit_all, visitor_requests

pytestmark = pytest.mark.model


def test_simultaneous_visitors_get_their_own_answers(app_url):
    # Three visitors share the loaded models at once as four did, for three quarters of the time
    requests = visitor_requests(3, "smollm2-135m", "smollm2-135m-gguf", "smollm2-135m-judge", max_new_tokens=16)
    alone, _ = visit_all(app_url, requests, at_once=False)
    together, _ = visit_all(app_url, requests, at_once=True)
    assert [r["answers"] for r in together] == [r["answers"] for r in alone]
    assert len({r["answers"] for r in together}) == len(requests), "three prompts and seeds, three different answers"
    assert all(r["prompt_kept"] and r["saved_answers_match"] for r in together)
