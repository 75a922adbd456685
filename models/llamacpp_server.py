"""`python -m models.llamacpp_server ARGS`: llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`,
same arguments) with the weights in plain CPU buffers, as the app loads them (models/llamacpp_buffers.py): the same
numbers as the in-process backend, and no crash on CPUs whose AMX kernels fail."""
from __future__ import annotations

import runpy

from models.llamacpp_buffers import llama_weight_buffers


def main() -> None:
    # The server loads its model inside its own main(): the buffer policy has to be in force for the whole run.
    with llama_weight_buffers():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
