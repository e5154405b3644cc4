"""Scoring on Ray (the ``ray`` extra): the local engine's rows, error rows, resume, a joined
cluster, and a scoring worker killed mid-run.

The Ray tests share one small local Ray instance (2 CPUs, 150 MB object store, no dashboard)
started and shut down by this module; they skip when Ray is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

import rankiqa
from image_fixtures import natural_image
from rankiqa.cli import main
from rankiqa.inference.model.iqa_model import IQAModel
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.saving import save_model
from rankiqa.inference.scoring.batch import iter_scores

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed: pip install '.[ray]'")
SRC = Path(rankiqa.__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def tiny_model() -> IQAModel:
    protocol = {"resize": 200, "test_crops": "center", "crop_size": 192}
    return untrained_model("shallow", input=protocol, score={"offset": 50.0, "scale": 10.0})


def make_images(folder: Path, count: int) -> list[str]:
    """``count`` small PNGs plus one unreadable file (last in sorted order)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i:02d}.png"
        Image.fromarray(natural_image(60 + 5 * i, 80, seed=i)).save(path)
        paths.append(str(path))
    bad = folder / "zz-not-an-image.png"
    bad.write_text("not an image")
    return [*paths, str(bad)]


def env_with_sources() -> dict[str, str]:
    """This environment plus this checkout's sources first on PYTHONPATH (Ray workers and
    subprocesses import the rankiqa under test and this module)."""
    parts = [str(SRC), str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(parts)}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------- without Ray
def test_core_package_does_not_import_ray() -> None:
    code = (
        "import sys, rankiqa, rankiqa.cli, rankiqa.cli.score, rankiqa.inference.scoring.batch; "
        "rankiqa.cli.build_parser(); print(sorted(m for m in sys.modules if m == 'ray' or "
        "m.startswith('ray.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env_with_sources(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_engine_ray_without_ray_installed_is_one_line_error(tmp_path: Path) -> None:
    model_file = save_model(tiny_model(), tmp_path / "tiny.safetensors")
    paths = make_images(tmp_path / "imgs", 1)
    code = (
        "import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed
        "from rankiqa.cli import main\n"
        f"sys.exit(main(['score', {paths[0]!r}, '-m', {str(model_file)!r}, '--engine', 'ray']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env_with_sources(), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rankiqa: error: --engine ray: Ray is not installed: pip install 'rankiqa[ray]'"
    ]
    assert result.stdout == ""


def test_ray_options_need_engine_ray(tmp_path: Path, capsys) -> None:
    model_file = save_model(tiny_model(), tmp_path / "tiny.safetensors")
    paths = make_images(tmp_path / "imgs", 1)
    code = main(["score", paths[0], "-m", str(model_file), "--num-actors", "2"])
    assert code == 2
    assert "--address and --num-actors need --engine ray" in capsys.readouterr().err


@needs_ray
def test_address_where_nothing_listens_fails_fast_in_one_line(tmp_path: Path, capsys) -> None:
    import ray

    assert not ray.is_initialized()  # runs before this module's Ray instance starts
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model_file = save_model(tiny_model(), tmp_path / "tiny.safetensors")
    paths = make_images(tmp_path / "imgs", 1)
    out = tmp_path / "out.csv"
    command = ["score", paths[0], "-m", str(model_file), "-o", str(out), "--engine", "ray"]
    start = time.monotonic()
    assert main([*command, "--address", f"127.0.0.1:{port}"]) == 2
    assert time.monotonic() - start < 60
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and f"--address 127.0.0.1:{port}: no Ray cluster answers" in err[0]
    assert not out.exists()  # nothing half-written


# ------------------------------------------------------------------------------- with Ray
@pytest.fixture(scope="module")
def ray_address():
    """A local Ray instance for this module's tests; yields its ``host:port`` address."""
    if not HAS_RAY:
        pytest.skip("Ray is not installed: pip install '.[ray]'")
    import ray

    patch = pytest.MonkeyPatch()
    patch.setenv("RAY_AUTH_MODE", "disabled")  # no ~/.ray/auth_token left behind by tests
    patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    patch.delenv("RAY_ADDRESS", raising=False)
    patch.setenv("PYTHONPATH", env_with_sources()["PYTHONPATH"])  # inherited by the workers
    ray.init(
        address="local",
        num_cpus=2,
        object_store_memory=150 * 1024 * 1024,
        include_dashboard=False,
        logging_level="WARNING",
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        patch.undo()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return save_model(tiny_model(), tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    return make_images(tmp_path_factory.mktemp("ray-imgs"), 10)


def local_rows(model_file: Path, paths: list[str]) -> dict[str, tuple[float | None, str]]:
    model = rankiqa.load_model(model_file)
    return {r.path: (r.score, r.error) for r in iter_scores(model, paths, 4, workers=0)}


def assert_same_rows(rows: list[dict], expected: dict[str, tuple[float | None, str]]) -> None:
    """One row per expected path, none twice, scores within 1e-4, the same errors."""
    counts = Counter(row["path"] for row in rows)
    assert counts == Counter(list(expected)), "missing or duplicated paths"
    for row in rows:
        score, error = expected[row["path"]]
        assert row["error"] == error
        if score is None:
            assert row["score"] is None or row["score"] != row["score"]  # null / NaN
        else:
            assert row["score"] == pytest.approx(score, abs=1e-4)


@needs_ray
def test_score_dataset_matches_local_engine_and_passes_columns_through(
    ray_address, model_file: Path, images: list[str]
) -> None:
    import ray

    from rankiqa.integrations.ray import score_dataset

    expected = local_rows(model_file, images)
    source = ray.data.from_items([{"path": p, "id": i} for i, p in enumerate(images)])
    dataset = score_dataset(source, model_file, batch_size=3, num_actors=2)
    assert isinstance(dataset, ray.data.Dataset)
    rows = dataset.take_all()
    assert_same_rows(rows, expected)
    assert {row["id"] for row in rows} == set(range(len(images)))
    assert set(rows[0]) == {"path", "id", "score", "error"}
    bad = next(row for row in rows if row["path"].endswith("zz-not-an-image.png"))
    assert "not a recognised image" in bad["error"]


@needs_ray
def test_cli_engine_ray_writes_the_local_engines_rows_and_resumes(
    ray_address, model_file: Path, images: list[str], tmp_path: Path, capsys
) -> None:
    folder = str(Path(images[0]).parent)
    local_out, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["score", folder, "-m", str(model_file), "-o", str(local_out)]) == 1
    common = ["score", folder, "-m", str(model_file), "--engine", "ray", "--batch-size", "3"]
    assert main([*common, "-o", str(ray_out), "--num-actors", "2"]) == 1
    assert "1 of 11 files could not be scored" in capsys.readouterr().err
    local, remote = read_jsonl(local_out), read_jsonl(ray_out)
    assert [r["path"] for r in remote] == [r["path"] for r in local]  # same order
    assert_same_rows(remote, {r["path"]: (r["score"], r["error"]) for r in local})

    # --resume: a killed run left 4 rows and half a line; the rest is appended once
    partial = tmp_path / "partial.csv"
    assert main(["score", *images[:4], "-m", str(model_file), "-o", str(partial)]) == 0
    with open(partial, "a") as handle:
        handle.write(images[4][:10])
    assert main([*common, "-o", str(partial), "--resume"]) == 1
    lines = partial.read_text().splitlines()
    assert lines[0] == "path,score,error"
    assert [line.split(",")[0] for line in lines[1:]] == images


@needs_ray
def test_packaged_onnx_model_on_ray_equals_the_local_engine(
    ray_address, images: list[str], tmp_path: Path
) -> None:
    """The light install's model (the packaged default on ONNX Runtime, no torch) through
    ``score_dataset`` and through ``rankiqa score --engine ray`` joining the cluster from a
    process where torch cannot be imported: the local engine's rows."""
    from light_install import BLOCK_TORCH
    from rankiqa.inference.scoring.choice import load_scorer
    from rankiqa.integrations.ray import score_dataset

    model = load_scorer()
    assert model.runtime_name == "onnxruntime"
    expected = {r.path: (r.score, r.error) for r in iter_scores(model, images, workers=0)}
    assert sum(score is not None for score, _ in expected.values()) == len(images) - 1
    assert_same_rows(score_dataset(images, model, batch_size=3, num_actors=2).take_all(), expected)

    port = ray_address.rpartition(":")[2]
    out = tmp_path / "scores.jsonl"
    command = [sys.executable, "-c", BLOCK_TORCH, "score", *images, "--engine", "ray"]
    command += ["--address", f"127.0.0.1:{port}", "--batch-size", "3", "-o", str(out)]
    env = {**os.environ, **env_with_sources()}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr  # one unreadable file
    rows = read_jsonl(out)
    assert [r["path"] for r in rows] == images
    assert_same_rows(rows, expected)
    assert "Traceback" not in result.stderr


@needs_ray
def test_cli_joins_a_running_cluster_by_address(
    ray_address, model_file: Path, images: list[str], tmp_path: Path
) -> None:
    """As a user runs it after ``ray start --head``: a separate process joins by address."""
    port = ray_address.rpartition(":")[2]
    out = tmp_path / "scores.jsonl"
    command = [sys.executable, "-m", "rankiqa", "score", *images, "-m", str(model_file)]
    command += ["--engine", "ray", "--address", f"127.0.0.1:{port}", "-o", str(out)]
    env = {**os.environ, **env_with_sources()}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr  # one unreadable file
    rows = read_jsonl(out)
    assert [r["path"] for r in rows] == images
    assert_same_rows(rows, local_rows(model_file, images))
    assert "Traceback" not in result.stderr


class ReportingModel(IQAModel):
    """A model that, before each batch, records its process id in ``folder`` and waits
    ``delay`` seconds: a known scoring worker, and a window to kill it mid-batch."""

    def __init__(self, base: IQAModel, folder: str, delay: float):
        super().__init__(base.net, base.metadata)
        self.folder, self.delay = folder, delay

    def score_views(self, views):
        Path(self.folder, f"{os.getpid()}-{time.monotonic_ns()}").touch()
        time.sleep(self.delay)
        return super().score_views(views)


def _pids(folder: Path) -> list[int]:
    return [int(p.name.split("-")[0]) for p in folder.iterdir()]


@needs_ray
def test_killing_a_scoring_worker_mid_run_loses_and_duplicates_nothing(
    ray_address, model_file: Path, tmp_path: Path
) -> None:
    from rankiqa.integrations.ray import score_dataset

    paths = make_images(tmp_path / "imgs", 20)
    expected = local_rows(model_file, paths)
    marks = tmp_path / "batches"
    marks.mkdir()
    model = ReportingModel(rankiqa.load_model(model_file), str(marks), delay=0.4)
    dataset = score_dataset(paths, model, batch_size=3, num_actors=2)
    killed: list[tuple[int, int]] = []  # (pid, batches started when it was killed)

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            started = _pids(marks)
            if started:  # a worker is inside its first batch (sleeping): kill it there
                os.kill(started[0], signal.SIGKILL)
                killed.append((started[0], len(started)))
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    rows = dataset.take_all()
    killer.join()

    assert killed, "no scoring worker was seen"
    pid, batches_before = killed[0]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # it is gone
    batches = _pids(marks)
    assert len(batches) > batches_before + 1  # the run went on after the kill
    assert len(set(batches) - {pid}) >= 1  # ... in other (restarted) worker processes
    assert_same_rows(rows, expected)  # one row per input, none twice, the same scores


@needs_ray
def test_engine_ray_keeps_rays_own_lines_off_stderr(tmp_path: Path) -> None:
    model_file = save_model(tiny_model(), tmp_path / "tiny.safetensors")
    paths = make_images(tmp_path / "imgs", 2)  # and one unreadable file: exit 1
    out = tmp_path / "out.csv"
    env = {k: v for k, v in env_with_sources().items() if not k.startswith("RAY_")}
    command = [
        *paths,
        "-m",
        str(model_file),
        "-o",
        str(out),
        "--engine",
        "ray",
        "--num-actors",
        "1",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "rankiqa", "score", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    # only rankiqa's own line: no Ray WARNING, no core_worker.cc line
    assert done.stderr == "rankiqa: 1 of 3 files could not be scored (see the error column)\n"
    assert len(out.read_text().splitlines()) == 4
