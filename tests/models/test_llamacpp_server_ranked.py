"""The served logprobs' fast sort (models/llamacpp_server.py `ranked`): the same list, in the same order, as
Python's sorted() for what llama-cpp-python sorts, and sorted() itself for anything else."""
import numpy as np
import pytest

from models.llamacpp_server import ranked


def vocabulary_logprobs(n: int = 49_152) -> np.ndarray:
    values = np.random.default_rng(0).normal(size=n).astype(np.float32)
    values[100:200] = values[5]  # ties, broken by the token id in reverse
    values[300:302] = -np.inf
    return values


@pytest.mark.parametrize("as_list", [False, True], ids=["array row", "tolist()"])
def test_the_pairs_come_back_as_sorted_orders_them(as_list):
    values = vocabulary_logprobs()
    sequence = values.tolist() if as_list else values
    expected = sorted(zip(sequence, range(len(sequence))), reverse=True)
    got = ranked(zip(sequence, range(len(sequence))), reverse=True)
    assert [index for _, index in got] == [index for _, index in expected]
    assert [value for value, _ in got] == [float(value) for value, _ in expected]  # the JSON's numbers


@pytest.mark.parametrize("pairs, reverse", [
    (lambda: zip([3.0, 1.0, 2.0], range(1, 4)), True),  # not paired with its own indices
    (lambda: zip([3.0, 1.0, 2.0], range(3, 0, -1)), True),
    (lambda: zip(["b", "c", "a"], range(3)), True),  # not numbers
    (lambda: zip([[1.0], [2.0]], range(2)), True),  # not one value a pair
    (lambda: zip(np.ones((2, 2)), range(2)), True),
    (lambda: zip([1.0, float("nan"), 0.5], range(3)), True),  # NaN: Python's own order
    (lambda: zip((3.0, 1.0, 2.0), range(3)), True),  # a tuple: not what the library sorts
    (lambda: zip([3.0, 1.0, 2.0], range(3)), False),
    (lambda: [3, 1, 2], True),
], ids=["other indices", "indices reversed", "strings", "nested", "a matrix", "nan", "a tuple", "ascending", "a list"])
def test_anything_else_is_sorted_by_python(pairs, reverse):
    def outcome(sort):
        try:
            return repr(sort(pairs(), reverse=reverse))
        except ValueError as error:  # a matrix's rows cannot be compared: the same error either way
            return f"ValueError: {error}"

    assert outcome(ranked) == outcome(sorted)


def test_a_zip_already_read_from_is_sorted_from_where_it_stands():
    pairs = zip([3.0, 1.0, 2.0], range(3))
    next(pairs)
    assert ranked(pairs, reverse=True) == [(2.0, 2), (1.0, 1)]


def test_a_key_is_sorted_by_python():
    assert ranked(zip([3.0, 1.0], range(2)), key=lambda pair: pair[1], reverse=True) == [(1.0, 1), (3.0, 0)]


def test_a_reply_s_logprob_rows_are_the_library_s_own_numbers():
    from llama_cpp.llama import Llama

    from models.llamacpp_server import logprob_rows

    logits = np.random.default_rng(1).normal(scale=4, size=(37, 49_152)).astype(np.float32)
    logits[3, 10:20] = -np.inf  # a masked token
    whole = Llama.logits_to_logprobs(logits)
    lazy = logprob_rows(Llama.logits_to_logprobs)(logits)
    for rows in (slice(30, None), slice(0, 5), 3, slice(None)):
        assert np.array_equal(lazy[rows], whole[rows])
    assert np.array_equal(np.asarray(lazy), whole) and lazy.shape == whole.shape and len(lazy) == len(whole)
    assert all(np.array_equal(a, b) for a, b in zip(lazy, whole))
    row = logits[5]  # one row (the streaming path) is computed as the library computes it
    assert np.array_equal(logprob_rows(Llama.logits_to_logprobs)(row), whole[5])
