"""Captioning metrics exactly as coco-caption computes them (pycocoevalcap), as an `evaluate` module.

BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D and, when Stanford CoreNLP 3.6.0's jars are installed, SPICE and SPIDEr.
Texts are tokenised with coco-caption's PTB tokenizer first. Java is required.
"""

import logging
import os
import shutil

import datasets
import evaluate

logger = logging.getLogger(__name__)

_DESCRIPTION = """
The coco-caption metrics used for audio captioning and for ADIFF's difference explanations (DCASE tooling):
PTB tokenisation (Stanford CoreNLP 3.4.1, lower-cased, punctuation removed), BLEU-1..4 (closest reference length),
METEOR 1.5 (`-l en -norm`), ROUGE-L (beta 1.2), CIDEr-D (sigma 6, clipped, x10, document frequencies over the
references given), SPICE (needs Stanford CoreNLP 3.6.0) and SPIDEr = (CIDEr-D + SPICE) / 2. All of it is
pycocoevalcap's own code and jars, so the numbers are coco-caption's. CIDEr-D depends on the whole corpus: compute
it over the full test set at once.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): one generated text per item.
    references (`list[list[str]]`): the reference texts of each item (one or more).
    per_item (`bool`, defaults to `False`): also return `per_item`, each metric's score per item.
    spice (`bool`, *optional*): `None` computes SPICE when its jars are present and reports it as `None` with a
        warning when not; `True` requires it (error when absent); `False` skips it.
    bootstrap_samples (`int`, defaults to 0): with N > 0, also return `bleu_4_ci` and `cider_d_ci`, percentile
        bootstrap intervals over items resampled with replacement. Corpus BLEU-4 is recomputed by pycocoevalcap's
        BleuScorer on each resample; CIDEr-D is the mean of per-item scores whose document frequencies stay those
        of the full set.
    confidence (`float`, defaults to 0.95): the intervals' coverage.
    seed (`int`, defaults to 0): the resampling seed.

Returns:
    `bleu_1`, `bleu_2`, `bleu_3`, `bleu_4`, `meteor`, `rouge_l`, `cider_d`, `spice`, `spider` (0-1 scale;
    CIDEr-D as coco reports it, typically 0-10; `spice`/`spider` are `None` when SPICE is unavailable), plus
    `per_item` and `bleu_4_ci` / `cider_d_ci` when asked for.

Example:
    >>> metric = adiff_hf.evaluation.metrics.load()
    >>> metric.compute(predictions=["a dog barks"], references=[["a dog is barking", "dog barking"]])
"""

_CITATION = """
@inproceedings{chen2015microsoft,
  title={Microsoft COCO Captions: Data Collection and Evaluation Server},
  author={Chen, Xinlei and Fang, Hao and Lin, Tsung-Yi and Vedantam, Ramakrishna and Gupta, Saurabh and
          Doll{\\'a}r, Piotr and Zitnick, C. Lawrence},
  journal={arXiv:1504.00325},
  year={2015}
}
"""

METRIC_NAMES = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider_d", "spice", "spider")
SPICE_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")


def spice_lib_dir() -> str:
    """Where pycocoevalcap's SPICE looks for the Stanford CoreNLP 3.6.0 jars."""
    import pycocoevalcap

    return os.path.join(list(pycocoevalcap.__path__)[0], "spice", "lib")


def spice_available() -> bool:
    return all(os.path.isfile(os.path.join(spice_lib_dir(), jar)) for jar in SPICE_JARS)


def _require_java() -> None:
    if shutil.which("java") is None:
        raise RuntimeError(
            "caption_metrics needs Java: coco-caption's PTB tokenizer and METEOR 1.5 are Java programs (shipped in "
            "pycocoevalcap). Install a Java runtime (e.g. `apt-get install default-jre-headless`) and put `java` "
            "on PATH."
        )


class CaptionMetrics(evaluate.Metric):
    """coco-caption's BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE and SPIDEr, computed by pycocoevalcap."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
            codebase_urls=["https://github.com/salaniz/pycocoevalcap"],
            reference_urls=["https://github.com/tylin/coco-caption"],
        )

    def _compute(
        self,
        predictions,
        references,
        per_item: bool = False,
        spice: bool | None = None,
        bootstrap_samples: int = 0,
        confidence: float = 0.95,
        seed: int = 0,
    ) -> dict:
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.meteor.meteor import Meteor
        from pycocoevalcap.rouge.rouge import Rouge
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        if not predictions:
            raise ValueError("caption_metrics got no predictions.")
        for i, refs in enumerate(references):
            if not refs:
                raise ValueError(f"references[{i}] is empty: every item needs at least one reference.")
        _require_java()

        tokenizer = PTBTokenizer()
        gts = tokenizer.tokenize({i: [{"caption": r} for r in refs] for i, refs in enumerate(references)})
        res = tokenizer.tokenize({i: [{"caption": p}] for i, p in enumerate(predictions)})

        scores, items = {}, {}
        bleu, bleu_items = Bleu(4).compute_score(gts, res, verbose=0)
        for n in range(4):
            scores[f"bleu_{n + 1}"], items[f"bleu_{n + 1}"] = float(bleu[n]), [float(s) for s in bleu_items[n]]
        score, item_scores = _meteor(Meteor).compute_score(gts, res)
        scores["meteor"], items["meteor"] = float(score), [float(s) for s in item_scores]
        score, item_scores = Rouge().compute_score(gts, res)
        scores["rouge_l"], items["rouge_l"] = float(score), [float(s) for s in item_scores]
        score, item_scores = Cider().compute_score(gts, res)
        scores["cider_d"], items["cider_d"] = float(score), [float(s) for s in item_scores]

        scores["spice"] = scores["spider"] = None
        if spice is not False:
            if spice_available():
                from pycocoevalcap.spice.spice import Spice

                score, item_scores = Spice().compute_score(gts, res)
                spice_items = [float(s["All"]["f"]) for s in item_scores]
                scores["spice"], items["spice"] = float(score), spice_items
                scores["spider"] = (scores["cider_d"] + scores["spice"]) / 2
                items["spider"] = [(c + s) / 2 for c, s in zip(items["cider_d"], spice_items, strict=True)]
            elif spice:
                raise RuntimeError(f"SPICE needs {' and '.join(SPICE_JARS)} in {spice_lib_dir()}.")
            else:
                logger.warning(
                    "SPICE and SPIDEr are unavailable (reported as None): copy %s from Stanford CoreNLP 3.6.0 "
                    "(stanford-corenlp-full-2015-12-09.zip) into %s to enable them.",
                    " and ".join(SPICE_JARS),
                    spice_lib_dir(),
                )
        if bootstrap_samples > 0:
            scores["bleu_4_ci"], scores["cider_d_ci"] = _bootstrap(
                gts, res, items["cider_d"], bootstrap_samples, confidence, seed
            )
        if per_item:
            scores["per_item"] = items
        return scores


_SCORERS = {}  # the process's METEOR scorer, once started


def _meteor(factory):
    """The process's METEOR scorer, started once and reused by every compute: its JVM takes seconds to load the
    paraphrase tables, and its scoring keeps nothing between calls (each EVAL scores only the lines sent with it).
    A scorer whose JVM has exited is replaced; the last one is stopped when the process exits."""
    scorer = _SCORERS.get("meteor")
    if scorer is None or scorer.meteor_p.poll() is not None:
        if not _SCORERS:
            import atexit

            atexit.register(_SCORERS.clear)  # pycocoevalcap's Meteor stops its JVM when deleted
        scorer = _SCORERS["meteor"] = factory()
    return scorer


def _bootstrap(gts, res, cider_items, samples: int, confidence: float, seed: int) -> tuple[list, list]:
    import numpy as np
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer

    cooked = BleuScorer(n=4)
    for i in gts:
        cooked += (res[i][0], gts[i])
    rng = np.random.default_rng(seed)
    cider = np.asarray(cider_items)
    bleu_4, cider_d = [], []
    for _ in range(samples):
        index = rng.integers(len(cider), size=len(cider))
        resample = BleuScorer(n=4)
        resample.ctest = [cooked.ctest[i] for i in index]
        resample.crefs = [cooked.crefs[i] for i in index]
        bleu_4.append(resample.compute_score(option="closest", verbose=0)[0][3])
        cider_d.append(cider[index].mean())
    tail = (1 - confidence) / 2 * 100
    return (
        [float(v) for v in np.percentile(bleu_4, [tail, 100 - tail])],
        [float(v) for v in np.percentile(cider_d, [tail, 100 - tail])],
    )
