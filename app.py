"""ADIFF demo (Gradio), ready for a Hugging Face Space.

ADIFF_HF_MODEL=path/or/hub-id python app.py      # then open http://127.0.0.1:7860
"""

import os

from adiff_hf.serving.demo import build_demo

if __name__ == "__main__":
    model = os.environ.get("ADIFF_HF_MODEL")
    if not model:
        raise SystemExit("Set ADIFF_HF_MODEL to a model directory or Hub id.")
    max_new_tokens = os.environ.get("ADIFF_HF_MAX_NEW_TOKENS")
    demo = build_demo(model, int(max_new_tokens) if max_new_tokens else None)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), server_port=int(os.environ.get("PORT", "7860"))
    )
