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
