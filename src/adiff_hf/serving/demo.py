"""The Gradio demo: two recordings in (upload or microphone); out come an explanation, a spectrogram difference
annotated with what was measured, the measured differences and each claim of the explanation checked against them
(contradicted claims marked ✗)."""

import os
import tempfile

from ..prompts import TIER_PROMPTS

TIER_LABELS = {
    "detail": "In detail",
    "sentence": "In a sentence",
    "few_words": "In a few words",
    "caption_first": "Caption the first recording",
    "caption_second": "Caption the second recording",
    "caption_both": "Caption both recordings",
}


CLAIM_HEADERS = ["claim in the explanation", "about", "check", "measurement"]
DIFFERENCE_HEADERS = ["measured difference"]


class Explainer:
    """Loads a model once and explains pairs of files; the demo's only contact with the model."""

    def __init__(self, model_name_or_path: str, max_new_tokens: int | None = None):
        import transformers

        import adiff_hf  # noqa: F401  (registers ADIFF)

        self.model = transformers.AutoModelForMultimodalLM.from_pretrained(model_name_or_path).eval()
        self.processor = transformers.AutoProcessor.from_pretrained(model_name_or_path)
        self.generate_kwargs = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
        self.pictures = tempfile.mkdtemp(prefix="adiff-demo-")

    def __call__(
        self, audio1: str | None, audio2: str | None, tier: str = "detail"
    ) -> tuple[str, str, list[list[str]], list[list[str]]]:
        """The explanation, the annotated picture's path, the measured differences (rows of one cell) and the
        claims checked (rows of `CLAIM_HEADERS`)."""
        from ..evidence import OUTCOME_MARKS, check_claims, compare_clips
        from .plotting import plot_difference

        if not audio1 or not audio2:
            raise ValueError("Give two recordings: upload or record both audio 1 and audio 2.")
        inputs = self.processor(text=TIER_PROMPTS[tier], audio=(audio1, audio2))
        explanation = self.processor.batch_decode(self.model.generate(**inputs, **self.generate_kwargs))[0]
        evidence = compare_clips(audio1, audio2)
        claims = check_claims(explanation, evidence)
        names = (os.path.basename(audio1), os.path.basename(audio2))
        picture = os.path.join(self.pictures, f"difference-{len(os.listdir(self.pictures))}.png")
        features = inputs["input_features"][0].numpy()
        plot_difference(features, explanation, picture, self.processor, names, evidence)
        differences = [[sentence] for sentence in evidence.sentences]
        rows = [
            [
                claim.text,
                claim.about,
                f"{OUTCOME_MARKS[claim.outcome]} {claim.outcome}",
                claim.measurement,
            ]
            for claim in claims
        ]
        return explanation, picture, differences, rows


def build_demo(model_name_or_path: str, max_new_tokens: int | None = None):
    """A `gradio.Blocks` app around [`Explainer`] (Space-ready: see `app.py`)."""
    import gradio as gr

    explainer = Explainer(model_name_or_path, max_new_tokens)

    def explain(audio1, audio2, tier_label):
        tier = next(t for t, label in TIER_LABELS.items() if label == tier_label)
        try:
            return explainer(audio1, audio2, tier)
        except (ValueError, FileNotFoundError) as error:  # bad audio: show the reason, not a stack trace
            raise gr.Error(str(error)) from None

    with gr.Blocks(title="ADIFF: how do these two recordings differ?") as demo:
        gr.Markdown(
            "# ADIFF: how do these two recordings differ?\n"
            "Upload or record two clips (the first 10 s of each are heard) and pick how much detail you want."
        )
        with gr.Row():
            audio1 = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Audio 1", elem_id="audio1")
            audio2 = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Audio 2", elem_id="audio2")
        tier = gr.Radio(list(TIER_LABELS.values()), value=TIER_LABELS["detail"], label="Answer", elem_id="tier")
        button = gr.Button("Explain the difference", variant="primary", elem_id="explain")
        text = gr.Textbox(label="Explanation", lines=4, elem_id="explanation")
        claims = gr.Dataframe(
            headers=CLAIM_HEADERS,
            label="The explanation's claims, checked against measurements (✗: the audio contradicts it)",
            elem_id="claims",
            wrap=True,
        )
        differences = gr.Dataframe(headers=DIFFERENCE_HEADERS, label="Measured differences", elem_id="differences")
        picture = gr.Image(label="Log-mel spectrograms and their difference", type="filepath", elem_id="picture")
        button.click(explain, inputs=[audio1, audio2, tier], outputs=[text, picture, differences, claims])
    return demo


__all__ = ["CLAIM_HEADERS", "DIFFERENCE_HEADERS", "Explainer", "TIER_LABELS", "build_demo"]
