"""Scoring on Ray: Ray Data streams the paths, a pool of actors keeps the model loaded.

Needs the ``ray`` extra (``pip install 'rankiqa[ray]'``); Ray is imported only when a function
here is called, and nothing else in rankiqa imports this module. Each actor decodes, preprocesses
and scores its batches with the local engine's code (:func:`rankiqa.inference.scoring.batch.iter_scores`),
so the scores equal ``rankiqa score``'s and an unreadable file becomes an error row. Actors are
restarted and their batches retried when a worker process or node dies; scoring is
deterministic, so a retried batch gives the same rows and every input yields exactly one row.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.imageio import DEFAULT_MAX_PIXELS
from rankiqa.inference.model.rows import ScoredImage
from rankiqa.inference.model.scorer import Scorer
from rankiqa.inference.scoring.batch import iter_scores

if TYPE_CHECKING:  # pragma: no cover
    import ray.data

__all__ = ["connect", "iter_scores_ray", "ray_engine", "score_dataset"]

INSTALL_HINT = "Ray is not installed: pip install 'rankiqa[ray]'"


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401 - the ray[data] part of the extra
    except ImportError:
        raise UserError(f"--engine ray: {INSTALL_HINT}") from None
    return ray


def _score_paths(
    model: Scorer, paths: list[str], max_pixels: int | None, draft: bool
) -> list[ScoredImage]:
    """One row per path, as the local engine makes them; never raises for a bad input."""
    score = dict(batch_size=max(1, len(paths)), workers=0, max_pixels=max_pixels, draft=draft)
    try:
        return list(iter_scores(model, paths, **score))
    except Exception:  # noqa: BLE001 - find the image at fault, let the others through
        rows = []
        for path in paths:
            try:
                rows.extend(iter_scores(model, [path], **score))
            except Exception as exc:  # noqa: BLE001
                rows.append(ScoredImage(path, None, f"{type(exc).__name__}: {exc}"))
        return rows


class ScoreBatches:
    """The callable class run by each actor of the pool: loads the model once, then maps
    batches ``{path_column: paths, ...}`` to the same batch plus ``score`` (float, NaN for a
    failed file) and ``error`` (empty when scored)."""

    def __init__(
        self,
        model_ref: list,
        path_column: str = "path",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        draft: bool = True,
        device: str = "cpu",
    ):
        import ray

        # the reference is wrapped in a list so that Ray hands it over instead of the model;
        # the copy opens its own runtime here (a session does not travel through the store)
        self.model = ray.get(model_ref[0]).worker_copy(threads=1).to(device)
        self.path_column, self.max_pixels, self.draft = path_column, max_pixels, draft

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [str(p) for p in batch[self.path_column]]
        rows = _score_paths(self.model, paths, self.max_pixels, self.draft)
        out = dict(batch)
        out["score"] = np.array(
            [math.nan if r.score is None else r.score for r in rows], dtype=np.float64
        )
        out["error"] = np.array([r.error for r in rows], dtype=object)
        return out


def score_dataset(
    data: ray.data.Dataset | Iterable[str | os.PathLike],
    model: Scorer | str | os.PathLike | None = None,
    *,
    batch_size: int = 16,
    num_actors: int | None = None,
    num_cpus: float = 1.0,
    num_gpus: float | None = None,
    device: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft: bool = True,
    path_column: str = "path",
) -> ray.data.Dataset:
    """A lazy Ray dataset of quality scores: the input's columns plus ``score`` and ``error``.

    Parameters
    ----------
    data
        Image paths, or a :class:`ray.data.Dataset` with a ``path_column`` of paths that every
        node can read (a local disk on one machine; a shared or mounted file system on a
        cluster). Other columns are passed through.
    model
        A model from :func:`rankiqa.load_model` (either runtime: the light install's ONNX
        Runtime model too) or anything it accepts (default: the packaged model). It is loaded
        here once and shipped to the actors through the object store, so model files need not
        exist on the other nodes.
    batch_size
        Images per actor call (and per network batch).
    num_actors
        Size of the actor pool (default: the cluster's CPUs / ``num_cpus``, or its GPUs /
        ``num_gpus`` on a GPU device).
    num_cpus, num_gpus
        Resources per actor; each actor's runtime uses one thread. ``num_gpus``
        defaults to 1 when ``device`` is a CUDA device, else 0.
    device
        Device in the actors (default: the model's; other than the CPU: the PyTorch model).
    max_pixels, draft
        As for :func:`rankiqa.inference.scoring.batch.iter_scores`.

    Returns
    -------
    ray.data.Dataset
        One row per input row. ``score`` is a float (NaN when the file could not be scored),
        ``error`` the reason (empty when scored). Actors are restarted and their batches
        retried if a worker dies. Row order follows the input only with
        ``DataContext.execution_options.preserve_order``.

    Examples
    --------
    >>> import ray  # doctest: +SKIP
    >>> from rankiqa.integrations.ray import score_dataset  # doctest: +SKIP
    >>> paths = ray.data.read_parquet("s3://bucket/photos.parquet")  # doctest: +SKIP
    >>> score_dataset(paths, num_actors=8).write_parquet("s3://bucket/scores")  # doctest: +SKIP
    """
    ray = _ray()
    from rankiqa.inference.scoring.choice import scorer_of

    model = scorer_of(model, prefer="torch")
    device = device or model.device
    on_gpu = device.startswith("cuda")
    if num_gpus is None:
        num_gpus = 1.0 if on_gpu else 0.0
    if isinstance(data, ray.data.Dataset):
        dataset = data
    else:
        paths = [os.fspath(p) for p in data]
        if not paths:
            raise UserError("score_dataset: no paths given")
        dataset = ray.data.from_items([{path_column: p} for p in paths])
    shipped = copy.deepcopy(model).to("cpu") if model.device != "cpu" else model
    model_ref = ray.put(shipped)
    if num_actors is None:
        resources = ray.cluster_resources()
        if num_gpus > 0:
            num_actors = int(resources.get("GPU", 0) // num_gpus)
        else:
            num_actors = int(resources.get("CPU", 1) // max(num_cpus, 1e-9))
        num_actors = max(1, num_actors)
    return dataset.map_batches(
        ScoreBatches,
        fn_constructor_kwargs={
            "model_ref": [model_ref],
            "path_column": path_column,
            "max_pixels": max_pixels,
            "draft": draft,
            "device": device,
        },
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=num_actors),
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        # Fault tolerance comes from Ray Data's defaults for actor pools: max_restarts=-1 (a
        # dead actor is restarted) and max_task_retries=-1 (its batches are retried), tested
        # in tests/test_ray.py; passing them ourselves is deprecated since Ray 2.60.
    )


def _token_available() -> bool:
    """Whether a Ray authentication token is available here (env or token file)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(
        os.path.expanduser("~"), ".ray", "auth_token"
    )
    return os.path.isfile(path)


def _on_this_machine(address: str) -> bool:
    """Whether ``address`` (``host:port``) names this machine (it can bind the host)."""
    host = (_host_port(address) or (address, 0))[0]
    if host in ("localhost", "auto"):
        return True
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
        return True
    except OSError:
        return False


def _host_port(address: str) -> tuple[str, int] | None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    return (host.strip("[]"), int(port)) if host and port.isdigit() else None


def _check_reachable(address: str, where: str, timeout: float = 5.0) -> None:
    """Fail fast on an address where nothing listens (``ray.init`` retries for minutes)."""
    target = _host_port(address)
    if target is None:
        return  # "auto" or another form Ray resolves itself
    try:
        socket.create_connection(target, timeout=timeout).close()
    except OSError as exc:
        raise UserError(
            f"{where}: no Ray cluster answers there ({exc.strerror or exc}); "
            "start one with 'ray start --head' or check the address ('ray status')"
        ) from None


def connect(address: str | None = None) -> bool:
    """Connect this process to Ray; return whether it started a local instance.

    ``address`` (``host:port``, ``ray://host:port`` or ``auto``) joins a running cluster;
    without it ``$RAY_ADDRESS`` is used if set, else a local Ray instance is started (no
    dashboard). Does nothing if Ray is already initialised here. A cluster on this machine
    started with token authentication (Ray >= 2.52 enables it when ``~/.ray/auth_token``
    exists) is joined with that token unless ``$RAY_AUTH_MODE`` says otherwise.
    """
    where = f"--address {address}" if address else f"RAY_ADDRESS={os.environ.get('RAY_ADDRESS')}"
    address = address or os.environ.get("RAY_ADDRESS") or None
    if (
        address is not None
        and "RAY_AUTH_MODE" not in os.environ
        and "ray" not in sys.modules  # Ray reads the mode when it is imported
        and _token_available()
        and _on_this_machine(address)
    ):
        os.environ["RAY_AUTH_MODE"] = "token"
    ray = _ray()
    if ray.is_initialized():
        return False
    quiet()
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        options.update(address="local", include_dashboard=False)
    else:
        _check_reachable(address, where)
        options["address"] = address
    try:
        ray.init(**options)
    except Exception as exc:  # noqa: BLE001 - ConnectionError, AuthenticationError, ...
        if address is None:
            raise UserError(f"cannot start a local Ray instance ({_first_line(exc)})") from None
        raise UserError(
            f"{where}: cannot join the Ray cluster ({_first_line(exc)}); is it "
            "running (ray status)? With token authentication set RAY_AUTH_MODE=token and "
            "RAY_AUTH_TOKEN"
        ) from None
    return address is None


def quiet() -> None:
    """Keep Ray's Python log lines (WARNINGs such as the token-authentication notice) and the
    workers' forwarded output off this process's stderr: a command-line tool reports its own
    errors."""
    for name in ("ray", "ray.data", "ray._private", "ray.util"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def native_stderr_to(path: str | os.PathLike) -> Iterator[None]:
    """Send what native code writes to file descriptor 2 (Ray's C++ ``core_worker.cc`` lines)
    to ``path``, while Python's ``sys.stderr`` keeps writing to the real stderr."""
    sys.stderr.flush()
    real = os.dup(2)
    saved = sys.stderr
    encoding = getattr(saved, "encoding", None) or "utf-8"
    sys.stderr = open(real, "w", buffering=1, encoding=encoding, closefd=False)  # noqa: SIM115
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    os.close(log)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)
        os.close(real)
        sys.stderr = saved


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def iter_scores_ray(
    model: Scorer,
    paths: Sequence[str | os.PathLike],
    batch_size: int = 16,
    workers: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft: bool = True,
    *,
    num_actors: int | None = None,
) -> Iterator[ScoredImage]:
    """:func:`rankiqa.inference.scoring.batch.iter_scores` on Ray: one row per path, in input order.

    ``workers`` is ignored (each actor decodes its own batches). Connects to Ray first if
    needed (see :func:`connect`).

    Examples
    --------
    >>> import rankiqa  # doctest: +SKIP
    >>> rows = list(iter_scores_ray(rankiqa.load_model(), ["a.jpg", "b.png"]))  # doctest: +SKIP
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        return
    connect()
    dataset = score_dataset(
        paths,
        model,
        batch_size=batch_size,
        num_actors=_pool_size(num_actors, len(paths), batch_size),
        max_pixels=max_pixels,
        draft=draft,
    )
    dataset.context.execution_options.preserve_order = True
    dataset.context.enable_progress_bars = False  # the caller shows its own
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for path, value, error in zip(batch["path"], batch["score"], batch["error"], strict=True):
            score = None if math.isnan(value) else float(value)
            yield ScoredImage(str(path), score, str(error))


def _pool_size(requested: int | None, count: int, batch_size: int) -> int:
    """Actors worth starting: as requested (default: one per CPU of the cluster), but no more
    than there are batches."""
    import ray

    wanted = requested or int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(wanted, math.ceil(count / max(1, batch_size))))


def ray_engine(
    address: str | None = None, num_actors: int | None = None
) -> Callable[..., Iterator[ScoredImage]]:
    """Connect to Ray now (so a bad address fails before any output is written) and return
    a function with :func:`~rankiqa.inference.scoring.batch.iter_scores`' signature that scores there.

    A local Ray instance started here is shut down when the returned iterator is exhausted.
    Ray stays quiet meanwhile: its Python warnings are muted and what its C++ core writes to
    stderr goes to ``$TMPDIR/rankiqa-ray.log``.
    """
    log = Path(tempfile.gettempdir()) / "rankiqa-ray.log"
    native = native_stderr_to(log)  # until the rows are done: Ray's C++ lines go to the log
    native.__enter__()
    try:
        started = connect(address)
    except BaseException:
        native.__exit__(None, None, None)
        raise
    # a command-line tool: Ray Data's per-run INFO lines and "progress bars disabled" are noise
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)

    def run(model: Scorer, paths: Sequence[str | os.PathLike], *args, **kwargs):
        try:
            yield from iter_scores_ray(model, paths, *args, num_actors=num_actors, **kwargs)
        finally:
            if started:
                _ray().shutdown()
            native.__exit__(None, None, None)

    return run
