"""The Gradio demo: two recordings in (upload or microphone); out come an explanation, a spectrogram difference
annotated with what was measured, the measured differences and each claim of the explanation checked against them
(contradicted claims marked ✗). Recordings longer than twice what the model hears are localised first: a timeline
with the differing regions shaded, a table of the regions with their explanations, and the rest for region #1."""

import os
import tempfile

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
REGION_HEADERS = ["#", "audio 1", "audio 2", "what the levels show", "explanation"]


class Explainer:
    """Loads a model once and explains pairs of files through its audio-difference pipeline; the demo's only
    contact with the model."""

    def __init__(self, model_name_or_path: str, max_new_tokens: int | None = None):
        from ..backbones import load_pipeline

        self.pipe = load_pipeline(model_name_or_path)
        self.generate_kwargs = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
        self.pictures = tempfile.mkdtemp(prefix="adiff-demo-")

    def __call__(self, audio1: str | None, audio2: str | None, tier: str = "detail") -> tuple:
        """The explanation, the annotated picture's path, the measured differences (rows of one cell), the claims
        checked (rows of `CLAIM_HEADERS`), the timeline's path (`None` for short recordings) and the differing
        regions (rows of `REGION_HEADERS`; empty for short recordings)."""
        from ..audio_io import audio_info

        if not audio1 or not audio2:
            raise ValueError("Give two recordings: upload or record both audio 1 and audio 2.")
        processor = self.pipe.processor
        heard = processor.heard_seconds
        if max(audio_info(audio1).duration, audio_info(audio2).duration) <= 2 * heard:
            return (*self._explain_pair(audio1, audio2, tier), None, [])
        from ..localization import format_time, read_spans
        from .plotting import plot_timeline

        found = self.pipe.localize(audio1, audio2, tier=tier, **self.generate_kwargs)
        timeline = self._picture_path("timeline")
        plot_timeline(found, timeline, (os.path.basename(audio1), os.path.basename(audio2)))
        rows = [
            [
                str(r.rank),
                f"{format_time(r.start1)}-{format_time(r.end1)}",
                f"{format_time(r.start2)}-{format_time(r.end2)}",
                r.summary,
                r.explanation or "",
            ]
            for r in found.regions
        ]
        if not found.regions:
            return found.report(), None, [], [], timeline, rows
        top, rate = found.regions[0], processor.feature_extractor.sampling_rate
        spans = read_spans(audio1, audio2, top.heard1, top.heard2, heard, rate)
        _, picture, differences, claims = self._explain_pair(*spans, tier, rate, explanation=top.explanation)
        return found.report(), picture, differences, claims, timeline, rows

    def _picture_path(self, kind: str) -> str:
        return os.path.join(self.pictures, f"{kind}-{len(os.listdir(self.pictures))}.png")

    def _explain_pair(self, audio1, audio2, tier: str, sampling_rate: int | None = None, explanation=None):
        from ..evidence import OUTCOME_MARKS
        from .plotting import plot_difference

        if explanation is None:
            results = self.pipe(audio1, audio2, tier=tier, sampling_rate=sampling_rate, **self.generate_kwargs)
            explanation = results[0]["generated_text"]
        evidence, claims = self.pipe.check(explanation, audio1, audio2, sampling_rate)
        names = tuple(
            os.path.basename(a) if isinstance(a, str) else f"audio {i} (region #1)"
            for i, a in enumerate((audio1, audio2), start=1)
        )
        picture = self._picture_path("difference")
        processor = self.pipe.processor
        features = processor.prepare_audio([(audio1, audio2)], sampling_rate=sampling_rate)["input_features"][0]
        plot_difference(features.numpy(), explanation, picture, processor, names, evidence)
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
            "Upload or record two clips and pick how much detail you want. The model hears 10 s of each; recordings "
            "longer than 20 s are first searched for where they differ, and each place is explained."
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
        timeline = gr.Image(label="Where long recordings differ", type="filepath", elem_id="timeline")
        regions = gr.Dataframe(headers=REGION_HEADERS, label="Differing regions", elem_id="regions", wrap=True)
        button.click(
            explain, inputs=[audio1, audio2, tier], outputs=[text, picture, differences, claims, timeline, regions]
        )
    return demo


__all__ = ["CLAIM_HEADERS", "DIFFERENCE_HEADERS", "REGION_HEADERS", "Explainer", "TIER_LABELS", "build_demo"]
