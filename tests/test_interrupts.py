"""Ctrl-C (SIGINT to the process group) and kill (SIGTERM) end ``rankiqa score`` with one
line, exit 130/143, no traceback from any process, and a file that ``--resume`` completes to
exactly one row per image."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from image_fixtures import natural_image

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups and signals: POSIX")


def rows_of(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(120):
        Image.fromarray(natural_image(64, 80, seed=i)).save(folder / f"p{i:03d}.png")
    return folder


def as_from_a_terminal() -> None:
    """SIGINT handled by default in the child, as when started from a terminal: a shell's
    background job (pytest started with ``&``) ignores SIGINT, and its children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def command(folder: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rankiqa", "score", str(folder), "-o", str(out),
            "--workers", "2", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("how", "code", "line"),
    [
        ("group-sigint", 130, "rankiqa: interrupted"),
        ("sigterm", 143, "rankiqa: terminated (SIGTERM)"),
    ],
)
def test_interrupt_then_resume(
    folder: Path, tmp_path: Path, how: str, code: int, line: str
) -> None:
    out = tmp_path / "scores.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(command(folder, out), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True,
                               preexec_fn=as_from_a_terminal)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.is_file() and len(out.read_text(encoding="utf-8").splitlines()) >= 6:
            break
        time.sleep(0.05)
    assert process.poll() is None, "finished before the interrupt; use more images"
    if how == "group-sigint":
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    else:
        process.send_signal(signal.SIGTERM)  # `kill PID`
    _, err = process.communicate(timeout=60)
    time.sleep(0.3)  # any worker's last words would land on the same stderr pipe
    assert process.returncode == code, err
    assert err.strip().splitlines() == [line]
    finished = rows_of(out)
    assert finished[0] == ["path", "score", "error"] and 5 <= len(finished) - 1 < 120
    resumed = subprocess.run(command(folder, out, "--resume"), capture_output=True, text=True,
                             env=env, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    paths = [row[0] for row in rows_of(out)[1:]]
    assert sorted(paths) == sorted(str(p) for p in folder.glob("*.png"))
    assert "Traceback" not in resumed.stderr
