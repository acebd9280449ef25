"""Serving ADIFF: the `adiff-hf` command, the Gradio demo, the Hub layout, spectrogram pictures and model cards.

Nothing here is imported by `import adiff_hf`: each module loads its own dependencies (matplotlib, gradio) when used.
"""
