"""LLM as a Judge: launch the Gradio app (built in ui/). `python app.py [--public] [--mcp]`; a Hugging Face Space runs
this file (and is in public mode there: see the README's "Sharing the app")."""
import argparse
import contextlib
import os
import sys
import threading

from basics import UserFacingError, use_persistent_hf_home

# First, before anything imports huggingface_hub (gradio, transformers, datasets do): it reads $HF_HOME once.
use_persistent_hf_home()
with contextlib.suppress(ImportError):  # ZeroGPU's package first: its guide says that may prevent issues
    import spaces  # noqa: F401

from runs.public import app_auth, public_gate  # noqa: E402
from ui.app import APP_CSS, build_app, preload_default_models  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Launch the LLM as a Judge app.")
    parser.add_argument("--public", action="store_true", help="public mode: allow-listed models only, no training, "
                                                              "limits for visitors (on by default on a Space)")
    parser.add_argument("--mcp", action="store_true", help="also serve the app's API as an MCP server (compare, "
                                                           "validate, the arena leaderboard...) at /gradio_api/mcp/; "
                                                           "or $LLM_JUDGE_MCP=1")
    args = parser.parse_args()
    mcp = args.mcp or os.environ.get("LLM_JUDGE_MCP", "").strip().lower() in {"1", "true", "yes", "on"}
    preload = os.environ.get("LLM_JUDGE_PRELOAD", "1").strip()
    try:
        if preload not in ("0", "1"):
            raise UserFacingError(f"$LLM_JUDGE_PRELOAD must be 1 (load the default models at start) or 0, got "
                                  f"{preload[:40]!r}")
        auth = app_auth()
        demo = build_app(public=True if args.public else None)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if preload == "1":
        threading.Thread(target=preload_default_models, daemon=True).start()
    # A shared app refuses an upload over its limit while it arrives, before it fills the disk (None: no limit).
    gate = public_gate()
    # None, not False: Gradio then reads its own $GRADIO_MCP_SERVER.
    demo.queue().launch(auth=auth, css_paths=[APP_CSS], mcp_server=True if mcp else None,
                        max_file_size=gate.policy.limits.upload_bytes if gate else None)
