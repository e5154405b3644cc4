"""Efficient all-pairs batch ranking loss vs a classic Siamese network, on the paper's layouts.

For each layout (LIVE 4×6×2 = 48 images, TID2013 9×5×1 = 45) and pair mode, one "epoch" of
``--batches`` batches is processed twice with the same model, images and ranked pairs:

* efficient: the batch is forwarded once, the hinge loss of all its pairs back-propagated
  (:func:`rankiqa.losses.ranking_hinge_loss`);
* Siamese: both branches (shared weights) forward every pair — ``2 × pairs`` images — in
  mini-batches of ``--pair-batch`` pairs, gradients accumulated over all pairs (the same loss).

Reports wall time per epoch (forward + backward, optimiser step excluded as it is identical),
the speed-up, the theoretical forward-count ratio (2·pairs / images), and the agreement of the
two gradients (cosine similarity, max |Δ| / max |g|). Prints JSON.

    python benchmarks/ranking_efficiency.py                    # alexnet, 64 px crops, 2 threads
    python benchmarks/ranking_efficiency.py --backbone alexnet --crop 227 --batches 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from rankiqa.data.ranked import BatchLayout
from rankiqa.losses import ranking_hinge_loss, ranking_pair_mask
from rankiqa.models import build_model


def layout_labels(layout: BatchLayout) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(group, level, reference) of every image of a batch, in the sampler's order."""
    g, lv, r = torch.meshgrid(
        torch.arange(layout.groups),
        torch.arange(layout.levels),
        torch.arange(layout.references),
        indexing="ij",
    )
    return g.flatten(), lv.flatten(), r.flatten()


def efficient_step(model, images, groups, levels, refs, pairs, margin) -> None:
    loss = ranking_hinge_loss(model(images), groups, levels, refs, margin, pairs, "batch")
    loss.backward()


def siamese_step(model, images, pair_i, pair_j, margin, pair_batch) -> None:
    """Two-branch network with shared weights: forward both images of every pair."""
    n = images.shape[0]
    for start in range(0, len(pair_i), pair_batch):
        i, j = pair_i[start : start + pair_batch], pair_j[start : start + pair_batch]
        better, worse = model(images[i]), model(images[j])  # branch 1, branch 2
        loss = torch.relu(margin - (better - worse)).sum() / n  # same normalisation
        loss.backward()


def grads(model) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def run_case(model, layout, pairs, args) -> dict:
    device = torch.device(args.device)
    groups, levels, refs = (t.to(device) for t in layout_labels(layout))
    mask = ranking_pair_mask(groups, levels, refs, pairs)
    pair_i, pair_j = mask.nonzero(as_tuple=True)
    gen = torch.Generator().manual_seed(0)
    batches = [
        torch.rand(layout.size, 3, args.crop, args.crop, generator=gen).to(device)
        for _ in range(args.batches)
    ]

    # gradient agreement on the first batch (eval mode: no dropout, identical functions)
    model.eval()
    model.zero_grad(set_to_none=True)
    efficient_step(model, batches[0], groups, levels, refs, pairs, args.margin)
    g_eff = grads(model).clone()
    model.zero_grad(set_to_none=True)
    siamese_step(model, batches[0], pair_i, pair_j, args.margin, args.pair_batch)
    g_siam = grads(model).clone()
    cosine = torch.nn.functional.cosine_similarity(g_eff.double(), g_siam.double(), dim=0).item()
    max_rel = ((g_eff - g_siam).abs().max() / g_siam.abs().max().clamp(min=1e-30)).item()

    model.train()
    times: dict[str, float] = {}
    for rep in range(args.repeats + 1):  # rep 0 = warm-up; the two methods interleaved
        for name in ("efficient", "siamese"):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for images in batches:
                model.zero_grad(set_to_none=True)
                if name == "efficient":
                    efficient_step(model, images, groups, levels, refs, pairs, args.margin)
                else:
                    siamese_step(model, images, pair_i, pair_j, args.margin, args.pair_batch)
            if device.type == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - t0
            if rep > 0 or args.repeats == 0:
                times[name] = min(times.get(name, float("inf")), elapsed)
    n_pairs = len(pair_i)
    return {
        "layout": str(layout),
        "pairs_mode": pairs,
        "images_per_batch": layout.size,
        "pairs_per_batch": n_pairs,
        "forwards_per_batch": {"efficient": layout.size, "siamese": 2 * n_pairs},
        "theoretical_ratio": 2 * n_pairs / layout.size,
        "seconds_per_epoch": {k: round(v, 4) for k, v in times.items()},
        "speedup": round(times["siamese"] / times["efficient"], 2),
        "grad_cosine": cosine,
        "grad_max_abs_diff_over_max_abs": max_rel,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="alexnet")
    parser.add_argument("--head", default="compact")
    parser.add_argument("--crop", type=int, default=64, help="crop size (default: 64)")
    parser.add_argument("--batches", type=int, default=1, help="batches per epoch (default: 1)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repeats after a warm-up; min taken"
    )
    parser.add_argument("--pair-batch", type=int, default=24, help="pairs per Siamese step")
    parser.add_argument("--margin", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layouts", default="live,tid")
    parser.add_argument("--pairs", default="reference,group")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(args.backbone, args.head, input_size=args.crop).to(args.device)
    warm = argparse.Namespace(**{**vars(args), "batches": 1, "repeats": 0})
    run_case(model, BatchLayout.parse("live"), "group", warm)  # allocator / kernel warm-up
    results = []
    for name in args.layouts.split(","):
        layout = BatchLayout.parse(name)
        modes = args.pairs.split(",") if layout.references > 1 else ["reference"]
        for pairs in modes:
            results.append(run_case(model, layout, pairs, args))
    print(
        json.dumps(
            {
                "benchmark": "ranking_efficiency",
                "setting": {
                    "backbone": args.backbone,
                    "head": args.head,
                    "crop": args.crop,
                    "batches_per_epoch": args.batches,
                    "pair_batch": args.pair_batch,
                    "threads": args.threads,
                    "device": args.device,
                    "torch": torch.__version__,
                    "machine": platform.machine(),
                },
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
