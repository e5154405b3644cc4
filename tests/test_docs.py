"""The docs match the program: every ``rankiqa`` command in README.md and docs/*.md parses
with the current options (no removed or deprecated spelling), and the example model metadata
in docs/scoring.md is the shipped model's. Running the commands on tiny inputs is covered by
the tests beside each subcommand (test_score_cli, test_finetune, test_train_rank, ...)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest

from rankiqa.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shell_commands(path: Path) -> list[tuple[int, str]]:
    """``(line, command)`` of each rankiqa command in the fenced code blocks of ``path``;
    synopsis lines (with ``[...]`` or ``A|B`` placeholders) are left out."""
    found, block, start, buffer = [], False, 0, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            block, buffer = not block, ""
            continue
        if not block:
            continue
        if not buffer:
            start = number
        buffer += line.rstrip().removesuffix("\\") + " "
        if line.rstrip().endswith("\\"):
            continue
        text, buffer = buffer.strip(), ""
        for part in re.split(r"&&|;", text):
            part = part.strip()
            match = re.match(r"^(?:torchrun .*?-m |python3? -m )?(rankiqa\s.*)$", part)
            if match:
                command = match.group(1)
                if re.search(r"\[.*\]|\w\|\w|\.\.\.", command.split("#")[0]):
                    continue  # a synopsis, not a command
                found.append((start, command))
    return found


COMMANDS = [(p, n, c) for p in DOCS for n, c in shell_commands(p)]


def test_the_docs_have_commands():
    assert len(COMMANDS) >= 25
    assert {c.split()[1] for _, _, c in COMMANDS} >= {
        "score",
        "distort",
        "train-rank",
        "finetune",
        "evaluate",
        "datasets",
        "export",
    }


@pytest.mark.parametrize(
    "path, line, command", COMMANDS, ids=[f"{p.name}:{n}" for p, n, _ in COMMANDS]
)
def test_documented_command_parses(path, line, command, capsys):
    argv = shlex.split(command.split(" > ")[0], comments=True)[1:]  # no shell redirection
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(
            f"{path.name}:{line}: {command!r} does not parse ({exc.code}): "
            f"{capsys.readouterr().err.strip()}"
        )
    err = capsys.readouterr().err
    assert "deprecated" not in err, f"{path.name}:{line}: {err.strip()}"


def test_metadata_example_is_the_shipped_models():
    spec = importlib.util.spec_from_file_location(
        "metadata_example", ROOT / "docs" / "metadata_example.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["metadata_example"] = module
    spec.loader.exec_module(module)
    assert module.current_block() == module.generated_block(), (
        "docs/scoring.md's example metadata is out of date: run python docs/metadata_example.py"
    )


# --------------------------------------------------- figures about the shipped models
def _packaged_metadata() -> dict[str, dict]:
    from rankiqa.core.model_file import read_metadata
    from rankiqa.inference.model.paths import packaged_model_names, packaged_models_dir

    return {
        name: read_metadata(packaged_models_dir() / f"{name}.safetensors")
        for name in packaged_model_names()
    }


#: the docs the checks below read (the packaged models' own README included)
FACT_DOCS = [*DOCS, ROOT / "src" / "rankiqa" / "weights" / "README.md"]
#: words that put a sentence about another model than the current default (history, `fast`)
OTHER_MODEL = re.compile(
    r"\bfast\b|previous|former|superseded|\bbefore\b|\bthen\b|until|earlier|AlexNet|\bold\b",
    re.I,
)
DEFAULT_SUBJECT = re.compile(
    r"packaged (?:default )?model|default model|current default|`default`", re.I
)
#: phrases that state the input size (the shorter side the protocol resizes to)
INPUT_SIZE = [
    re.compile(r"(\d{3}) ?px shorter side"),
    re.compile(r"whole image at (?:a )?(\d{3}) ?px"),
    re.compile(r"resizes the shorter side to (\d{3})"),
    re.compile(r"`default`\W{0,4}(\d{3}) ?px"),
]


def _sentences(path: Path) -> list[str]:
    """The text of ``path`` as sentences (wrapped lines joined; table cells apart)."""
    out = []
    for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        flat = " ".join(para.split())
        out += re.split(r"(?<=[.;])\s+(?=[A-Z*`(])|\|", flat)
    return out


def test_docs_cite_the_default_models_input_size():
    """A sentence about the packaged default model that states its input size states the
    size its metadata has (`input.resize`); sentences about `fast` or history are left out."""
    resize = _packaged_metadata()["default"]["input"]["resize"]
    wrong = []
    for path in FACT_DOCS:
        for sentence in _sentences(path):
            if not DEFAULT_SUBJECT.search(sentence) or OTHER_MODEL.search(sentence):
                continue
            for pattern in INPUT_SIZE:
                wrong += [
                    f"{path.name}: {m.group(1)} px in {sentence[:120]!r}"
                    for m in pattern.finditer(sentence)
                    if int(m.group(1)) != resize
                ]
    assert not wrong, f"the default model resizes to {resize} px:\n" + "\n".join(wrong)


def test_docs_cite_the_default_map_region():
    """'a third of the shorter side (N px for the packaged model, which resizes ... to R'."""
    resize = _packaged_metadata()["default"]["input"]["resize"]
    found = 0
    for path in FACT_DOCS:
        text = " ".join(path.read_text(encoding="utf-8").split())
        for m in re.finditer(
            r"third of the shorter side\W*\((\d+) px for the packaged model, which resizes the "
            r"shorter side to (\d+)",
            text,
        ):
            found += 1
            assert (int(m.group(1)), int(m.group(2))) == (round(resize / 3), resize), m.group(0)
    assert found, "docs/maps-report.md no longer states the default region"


def _packaged_files() -> dict[str, Path]:
    from rankiqa.inference.model.paths import packaged_models_dir

    folder = packaged_models_dir()
    return {p.name: p for p in folder.iterdir() if p.suffix in (".safetensors", ".onnx")}


def test_docs_cite_the_packaged_file_sizes():
    """Every 'NAME.safetensors … N MB' (or .onnx, .int8.onnx; ``{a,b}.suffix`` for several)
    in the docs gives the file's size in decimal MB to the digits written."""
    files = _packaged_files()
    cited = 0
    for path in FACT_DOCS:
        text = " ".join(path.read_text(encoding="utf-8").split())
        for m in re.finditer(
            r"([\w{},]+)(\.int8\.onnx|\.onnx|\.safetensors)`?,? \(?(?:about |~)?(\d+(?:\.\d+)?) MB",
            text,
        ):
            stems = m.group(1).strip("{}").split(",")
            size = m.group(3)
            digits = len(size.split(".")[1]) if "." in size else 0
            for stem in stems:
                name = f"{stem.rsplit('/', 1)[-1]}{m.group(2)}"
                if name not in files:
                    continue
                cited += 1
                actual = files[name].stat().st_size / 1e6
                assert round(actual, digits) == float(size), (
                    f"{path.name}: {name} is {actual:.2f} MB, the doc says {size} MB"
                )
    assert cited >= 2
