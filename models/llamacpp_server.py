"""`python -m models.llamacpp_server ARGS`: llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`,
same arguments) with the weights in plain CPU buffers, as the app loads them (models/llamacpp_buffers.py): the same
numbers as the in-process backend, and no crash on CPUs whose AMX kernels fail. Its token probabilities are ranked
with numpy (`ranked`), the same list in the same order, ~4x faster than the library's own sort; and a reply's log
probabilities are computed for the reply's tokens alone (`logprob_rows`), not for every token of its prompt too."""
from __future__ import annotations

import builtins
import runpy

import numpy as np

from models.llamacpp_buffers import llama_weight_buffers


def ranked(iterable, /, *, key=None, reverse: bool = False) -> list:
    """`sorted`, with a fast path for what llama-cpp-python sorts for every token of a reply with logprobs:
    zip(logprobs, range(vocabulary)), all 49,152 of them, in reverse. Python makes and compares those tuples in
    ~50 ms a token (a 50-token judge reply: 2 of a 3.6 s request, measured); numpy orders them in ~8 ms. The pairs
    are distinct (their second items are), so descending order is by value and then by index: a lexsort. The values
    come back as Python floats, which is what the server's JSON holds of them either way."""
    source = _logprobs_and_range(iterable) if key is None and reverse else None
    if source is None:
        return builtins.sorted(iterable, key=key, reverse=reverse)
    try:
        values = np.asarray(source, dtype=np.float64)
    except (TypeError, ValueError):  # not numbers
        values = None
    if values is None or values.ndim != 1 or np.isnan(values).any():  # NaN has no place in an order
        return builtins.sorted(zip(source, range(len(source))), reverse=True)
    order = np.lexsort((np.arange(len(values)), values))[::-1]
    return list(zip(values[order].tolist(), order.tolist()))


def _logprobs_and_range(iterable):
    """The sequence `iterable` pairs with range(len(sequence)), when it is such an untouched zip; else None."""
    if not isinstance(iterable, zip):
        return None
    try:
        _, iterators = iterable.__reduce__()
        (_, (sequence,), at_sequence), (_, (indices,), at_index) = (it.__reduce__() for it in iterators)
    except (TypeError, ValueError):
        return None
    if at_sequence or at_index or not isinstance(sequence, (list, np.ndarray)):
        return None
    return sequence if indices == range(len(sequence)) else None


class _RowsOnRequest:
    """The log probabilities of a (tokens, vocabulary) array of logits, computed for the rows taken from it.

    For a reply with logprobs llama-cpp-python computes them over every row it holds, the prompt's included, and
    then keeps the reply's (`logits_to_logprobs(self._scores)[token_offset:]`): a judge's prompt of ~700 tokens
    is ~34 million values made three times over, ~1.4 s of a served probability reading on this project's 2-core CPU
    (py-spy on tests/ui/test_app_endpoints.py), for the ~50 rows kept. The rows are computed by the library's own
    function, so they are the same numbers (tests/models/test_llamacpp_server_ranked.py)."""

    def __init__(self, logits: np.ndarray, compute):
        self._logits, self._compute, self._whole = logits, compute, None

    def __getitem__(self, rows):
        return self._compute(self._logits[rows])

    def _whole_array(self) -> np.ndarray:
        if self._whole is None:
            self._whole = self._compute(self._logits)
        return self._whole

    def __getattr__(self, name):  # anything but taking rows (another library version): the whole array, once
        return getattr(self._whole_array(), name)

    def __array__(self, dtype=None, copy=None):
        return self._whole_array() if dtype is None else self._whole_array().astype(dtype)

    def __len__(self) -> int:
        return len(self._logits)

    def __iter__(self):
        return iter(self._whole_array())


def logprob_rows(compute):
    """The library's `logits_to_logprobs` (`compute`), made lazy for a 2-D array: rows are computed as taken."""

    def logits_to_logprobs(logits, axis: int = -1):
        if isinstance(logits, np.ndarray) and logits.ndim == 2 and axis in (-1, 1):
            return _RowsOnRequest(logits, compute)
        return compute(logits, axis=axis)

    return logits_to_logprobs


def main() -> None:
    import llama_cpp.llama

    # Only the library's module sees `ranked`: its three sorts are of (logprob, token id) pairs.
    llama_cpp.llama.sorted = ranked
    Llama = llama_cpp.llama.Llama
    Llama.logits_to_logprobs = staticmethod(logprob_rows(Llama.logits_to_logprobs))
    # The server loads its model inside its own main(): the buffer policy has to be in force for the whole run.
    with llama_weight_buffers():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
