"""Train ADIFF with its three-stage recipe on difference CSVs (ACD/CLD schema) through `Trainer`.

Every `TrainingArguments` flag works (distributed runs with torchrun / accelerate launch included), plus model,
data and stage arguments; see --help. Example, all three stages on the toy dataset:

    python scripts/train_adiff.py --model_name_or_path adiff-base-hf --train_csv data/train.csv \
        --validation_csv data/validation.csv --stages 1,2,3 --output_dir runs/adiff --num_train_epochs 3
"""

import logging
import sys

from transformers import HfArgumentParser

from adiff_hf.training import ADiffTrainingArguments, DataArguments, ModelArguments, StageArguments, run_stages


def main(argv: list[str] | None = None) -> list[str]:
    parser = HfArgumentParser((ModelArguments, DataArguments, StageArguments, ADiffTrainingArguments))
    if argv is None and len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        model_args, data_args, stage_args, training_args = parser.parse_json_file(sys.argv[1])
    else:
        model_args, data_args, stage_args, training_args = parser.parse_args_into_dataclasses(argv)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO if training_args.should_log else logging.WARNING,
    )
    return run_stages(model_args, data_args, stage_args, training_args)


if __name__ == "__main__":
    main()
