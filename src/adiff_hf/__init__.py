"""adiff-hf: ADIFF (explaining audio difference in natural language) for Hugging Face Transformers.

Importing the package registers ADIFF with the Auto classes: `AutoConfig`, `AutoModel`,
`AutoModelForMultimodalLM`, `AutoFeatureExtractor` and `AutoProcessor`, and the `"audio-difference"` pipeline task.
"""

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForMultimodalLM,
    AutoProcessor,
)
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_adiff import ADiffConfig, ADiffEarConfig
from .feature_extraction_adiff import ADiffFeatureExtractor
from .modeling_adiff import ADiffEarModel, ADiffForConditionalGeneration, ADiffModel, ADiffPreTrainedModel
from .pipeline_adiff import AudioDifferencePipeline
from .processing_adiff import ADiffProcessor

__version__ = "0.1.0"

AutoConfig.register(ADiffConfig.model_type, ADiffConfig, exist_ok=True)
AutoConfig.register(ADiffEarConfig.model_type, ADiffEarConfig, exist_ok=True)
AutoModel.register(ADiffEarConfig, ADiffEarModel, exist_ok=True)
AutoModel.register(ADiffConfig, ADiffModel, exist_ok=True)
AutoModelForMultimodalLM.register(ADiffConfig, ADiffForConditionalGeneration, exist_ok=True)
AutoFeatureExtractor.register(ADiffConfig, ADiffFeatureExtractor, exist_ok=True)
AutoProcessor.register(ADiffConfig, ADiffProcessor, exist_ok=True)

# Saved directories carry the code, so they also load with trust_remote_code where adiff_hf is not installed.
ADiffConfig.register_for_auto_class()
ADiffForConditionalGeneration.register_for_auto_class("AutoModelForMultimodalLM")
ADiffModel.register_for_auto_class("AutoModel")
ADiffFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
ADiffProcessor.register_for_auto_class("AutoProcessor")

PIPELINE_REGISTRY.register_pipeline(
    "audio-difference",
    pipeline_class=AudioDifferencePipeline,
    pt_model=AutoModelForMultimodalLM,
    type="multimodal",
)

__all__ = [
    "ADiffConfig",
    "ADiffEarConfig",
    "ADiffEarModel",
    "ADiffFeatureExtractor",
    "ADiffForConditionalGeneration",
    "ADiffModel",
    "ADiffPreTrainedModel",
    "ADiffProcessor",
    "AudioDifferencePipeline",
]
