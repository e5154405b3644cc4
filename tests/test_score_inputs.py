"""``rankiqa score`` as a user meets it: awkward arguments, duplicates, terminal output, and the
same score from the CLI and the API."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import natural_image
from rankiqa.cli import main
from rankiqa.inference import load_model
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.saving import save_model
from rankiqa.inference.scoring.inputs import expand_inputs, find_inputs
from rankiqa.inference.scoring.results import shorten_middle

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    protocol = {"resize": 200, "test_crops": "center", "crop_size": 192}
    model = untrained_model("shallow", input=protocol, score={"offset": 50.0, "scale": 10.0})
    return save_model(model, tmp_path_factory.mktemp("model") / "tiny.safetensors")


def save(path: Path, seed: int = 0, size: tuple[int, int] = (64, 80), **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(natural_image(*size, seed=seed)).save(path, **kw)
    return path


def csv_rows(text: str) -> dict[str, dict]:
    return {r["path"]: r for r in csv.DictReader(io.StringIO(text))}


def test_explicit_bad_paths_get_error_rows_and_the_run_goes_on(tmp_path, model_file, capsys):
    good = [save(tmp_path / "a.png"), save(tmp_path / "b.jpg", seed=1)]
    gif = save(tmp_path / "pics" / "anim.gif", seed=2)
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.jpg").mkdir()  # a folder with an image's name, and nothing in it
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    os.mkfifo(tmp_path / "pipe.png")  # would block a decoder for ever
    args = [*good, tmp_path / "empty", tmp_path / "x.jpg", tmp_path / "notes.txt"]
    args += [tmp_path / "dangling.png", tmp_path / "pics", tmp_path / "nothing-*.png"]
    args += [tmp_path / "pipe.png"]
    code = main(["score", *map(str, args), "-m", str(model_file), "-f", "csv"])
    out, err = capsys.readouterr()
    assert code == 1
    rows = csv_rows(out)
    assert len(rows) == 9
    for path in (*good, gif):
        assert rows[str(path)]["error"] == "" and float(rows[str(path)]["score"]) > 0
    reasons = {
        "empty": "no image files",
        "x.jpg": "no image files",
        "notes.txt": "not a recognised image",
        "dangling.png": "broken symbolic link",
        "nothing-*.png": "matches no image files",
        "pipe.png": "not a regular file",
    }
    for name, reason in reasons.items():
        row = rows[str(tmp_path / name)]
        assert row["score"] == "" and reason in row["error"], (name, row)
    assert "6 of 9 files could not be scored" in err


def test_folder_scan_takes_gif_and_other_pillow_formats(tmp_path):
    for name in ("a.gif", "b.PNG", "c.tga", "d.ppm", "e.webp"):
        save(tmp_path / name)
    (tmp_path / "f.txt").write_text("x")
    paths, errors = find_inputs([tmp_path])
    assert [Path(p).name for p in paths] == ["a.gif", "b.PNG", "c.tga", "d.ppm", "e.webp"]
    assert errors == {}


def test_three_spellings_of_one_file_give_one_row(tmp_path, model_file, capsys, monkeypatch):
    save(tmp_path / "pics" / "a.png")
    (tmp_path / "pics" / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    spellings = ["pics/a.png", "./pics/a.png", "pics/sub/../a.png", str(tmp_path / "pics")]
    assert expand_inputs(spellings) == ["pics/a.png"]
    assert main(["score", *spellings, "-m", str(model_file), "-f", "csv"]) == 0
    assert list(csv_rows(capsys.readouterr().out)) == ["pics/a.png"]


def test_cli_and_api_agree_on_a_large_jpeg(tmp_path, model_file, capsys):
    path = save(tmp_path / "large.jpg", size=(1024, 1536), quality=92)
    model = load_model(model_file)
    for extra, exact in (([], False), (["--exact-decode"], True)):
        assert main(["score", str(path), "-m", str(model_file), "-f", "csv", *extra]) == 0
        cli = float(csv_rows(capsys.readouterr().out)[str(path)]["score"])
        assert cli == pytest.approx(model.score(path, exact_decode=exact), abs=0.01)
        assert cli == pytest.approx(model.score([str(path)], exact_decode=exact)[0], abs=0.01)
    # the two decodings really differ here, so the agreement above is not by chance
    assert model.score(path) != model.score(path, exact_decode=True)


def test_shorten_middle_keeps_both_ends():
    text = "/very/long/" + "x" * 100 + "/holiday/beach.jpg"
    short = shorten_middle(text, 40)
    assert len(short) == 40 and short.startswith("/very/") and short.endswith("beach.jpg")
    assert "…" in short and shorten_middle("short.jpg", 40) == "short.jpg"


def test_table_on_a_terminal_is_clean_and_fits(tmp_path, model_file):
    """In a 100-column pseudo-terminal: no bar fragments, every row on its own line, none
    wider than the terminal, the error row present."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    deep = tmp_path.joinpath(*(["a-rather-long-folder-name"] * 5))
    good = [save(deep / f"image-with-a-long-name-{i:02d}.png", seed=i) for i in range(5)]
    (deep / "broken-image-with-a-long-name.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 50)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "", "OMP_NUM_THREADS": "1"}
    env.pop("COLUMNS")
    cmd = [sys.executable, "-m", "rankiqa", "score", str(deep), "-m", str(model_file)]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 1
    os.close(master)
    text = b"".join(chunks).decode("utf-8")
    assert "\r" not in text.replace("\r\n", "\n")  # no bar redrawn over the rows
    lines = text.replace("\r\n", "\n").splitlines()
    assert lines[0].split() == ["path", "score", "error"]
    rows = lines[1:7]
    assert all(len(line) <= 100 for line in lines), max(map(len, lines))
    assert sum("…" in r and r.split()[0].endswith(".png") for r in rows) == 6
    assert sum(r.split()[1] != "-" for r in rows) == len(good)
    broken = [r for r in rows if "broken-image" in r]
    assert len(broken) == 1 and broken[0].split()[1] == "-"
    assert lines[7].startswith("rankiqa: 1 of 6 files could not be scored")


def test_table_in_a_pipe_keeps_full_paths(tmp_path, model_file, capsys):
    deep = tmp_path.joinpath(*(["folder"] * 30))
    path = save(deep / "a.png")
    assert main(["score", str(path), "-m", str(model_file)]) == 0
    out = capsys.readouterr().out
    assert str(path) in out and "…" not in out and np.isfinite(float(out.split()[-1]))
