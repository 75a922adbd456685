"""LLM as a Judge: launch the Gradio app (built in ui/). `python app.py`; a Hugging Face Space runs this file."""
import os
import threading

from ui.app import build_app, preload_default_models

if __name__ == "__main__":
    if os.environ.get("LLM_JUDGE_PRELOAD", "1") == "1":
        threading.Thread(target=preload_default_models, daemon=True).start()
    build_app().queue().launch()
