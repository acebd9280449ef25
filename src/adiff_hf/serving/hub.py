"""The Hub repository of an ADIFF model: model, processor, custom code and pipeline, model card, eval results."""

import os
import shutil
import tempfile

from ..pipeline_adiff import AudioDifferencePipeline
from .model_card import build_model_card


def save_hub_layout(model, processor, directory: str | os.PathLike, eval_dir=None, **card_kwargs) -> list[str]:
    """Write exactly what [`push_adiff_to_hub`] uploads into `directory`; returns the files, relative.

    The directory then loads anywhere with `pipeline(model=directory, trust_remote_code=True)`: the config names
    the custom `audio-difference` pipeline and the Auto classes, and the code travels with the weights.
    `card_kwargs` go to [`~adiff_hf.serving.model_card.build_model_card`].
    """
    directory = os.fspath(directory)
    pipe = AudioDifferencePipeline(model=model, processor=processor)
    pipe.save_pretrained(directory)  # weights, config with custom_pipelines + auto_map, the code files
    processor.save_pretrained(directory)  # Pipeline.save_pretrained does not save a processor
    build_model_card(directory, eval_dir=eval_dir, **card_kwargs).save(os.path.join(directory, "README.md"))
    if eval_dir is not None and os.path.isdir(os.path.join(eval_dir, ".eval_results")):
        shutil.copytree(
            os.path.join(eval_dir, ".eval_results"), os.path.join(directory, ".eval_results"), dirs_exist_ok=True
        )
    return sorted(
        os.path.relpath(os.path.join(root, name), directory)
        for root, _, names in os.walk(directory)
        for name in names
        if "__pycache__" not in root
    )


def push_adiff_to_hub(
    repo_id: str, model, processor, eval_dir=None, private: bool | None = None, token=None, **card_kwargs
) -> str:
    """Upload model + custom code + pipeline, processor, model card and eval results with the standard mixins."""
    from huggingface_hub import HfApi

    pipe = AudioDifferencePipeline(model=model, processor=processor)
    pipe.push_to_hub(repo_id, private=private, token=token)
    processor.push_to_hub(repo_id, private=private, token=token)
    with tempfile.TemporaryDirectory() as tmp:
        pipe.save_pretrained(tmp)  # the card reads the saved config and weights
        card = build_model_card(tmp, eval_dir=eval_dir, repo_id=repo_id, **card_kwargs)
    card.push_to_hub(repo_id, token=token)
    if eval_dir is not None and os.path.isdir(os.path.join(eval_dir, ".eval_results")):
        HfApi(token=token).upload_folder(
            repo_id=repo_id, folder_path=os.path.join(eval_dir, ".eval_results"), path_in_repo=".eval_results"
        )
    return f"https://huggingface.co/{repo_id}"


__all__ = ["push_adiff_to_hub", "save_hub_layout"]
