"""Default-model experiments on cached EfficientNet-Lite0 activations (see cache_features.py).

Dev protocol (issue 9): the 10 random 80/20 splits of clive-dev (``rankiqa datasets
--make-splits``); inside each training part a fixed 15 % validation part chooses the epoch;
the test part is scored once at the end. Synthetic check: pair accuracy on the LIVE-preset
ranked set of the Kodak references, which take part in no training stage.

Modes:
  ridge     ridge regression on frozen multi-level mean/std features (alpha by leave-one-out)
  svr, krr  RBF support-vector / kernel ridge regression on the same features (both mirror
            copies of the training part; C, gamma or alpha chosen on the validation part)
  head      the stats head (MLP) trained on frozen features
  finetune  the stats head + the last block and head convolution of Lite0

``--rank-weight W`` adds the all-pairs ranking hinge on ranked sets of other references
(``--ranked`` caches) to the MOS loss. ``--final`` trains on all of clive-dev (the
validation part still chooses the epoch) and saves the trainable weights.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr
from torch import nn

from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.splits import load_splits
from rankiqa.losses import ranking_hinge_loss
from rankiqa.models.efficientnet_lite import EfficientNetLite
from rankiqa.models.heads import StatsHead


class Tail(nn.Module):
    """Trainable end of the network: block 15 + head conv + stats head (frozen stats in)."""

    def __init__(self, net: EfficientNetLite, head: StatsHead, split: int):
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[split:])
        self._conv_head, self._bn1 = net._conv_head, net._bn1
        self.head = head
        self.split = split
        self.tap_blocks = net.tap_blocks

    def tail_stats(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for index, block in enumerate(self.blocks, start=self.split):
            x = block(x)
            if index in self.tap_blocks:
                out.append(x)
        out.append(F.relu6(self._bn1(self._conv_head(x))))
        return torch.cat([torch.cat([f.flatten(2).mean(2), f.flatten(2).std(2)], 1) for f in out], 1)

    def forward(self, frozen: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        z = torch.cat([frozen, self.tail_stats(x)], 1)
        # the stats head's layout is [mean_1, std_1, mean_2, std_2, ...]; frozen stats come first
        return self.head.fc(self.head.norm(z)).squeeze(1)


def load_cache(path: str) -> dict:
    data = torch.load(path, weights_only=False)  # our own cache files
    return data


def ranked_groups(cache: dict, flip: int | None = None) -> list[dict]:
    """(reference, distortion) groups of a ranked cache: indices ordered by level (0 = pristine)."""
    by_ref: dict[str, dict] = defaultdict(dict)
    pristine: dict[tuple[str, int], int] = {}
    for i, m in enumerate(cache["meta"]):
        if flip is not None and int(m["flip"]) != flip:
            continue
        key = (m["reference"], int(m["flip"]))
        level = int(m["level"])
        if level == 0 or m["distortion"] in ("", "pristine", "reference"):
            pristine[key] = i
        else:
            by_ref[key].setdefault(m["distortion"], {})[level] = i
    groups = []
    for key, types in by_ref.items():
        for dist, levels in types.items():
            if key not in pristine:
                continue
            order = [pristine[key]] + [levels[k] for k in sorted(levels)]
            groups.append({"ref": key[0], "flip": key[1], "type": dist, "idx": order})
    return groups


def stack_maps(cache: dict, idx: list[int]) -> torch.Tensor:
    return torch.stack([cache["maps"][i].float() for i in idx]).contiguous(
        memory_format=torch.channels_last
    )


def tail_scores(tail: Tail, cache: dict, rows: list[int]) -> torch.Tensor:
    """Scores of cached images of possibly different sizes (one batch per size, input order)."""
    by_shape: dict[tuple, list[int]] = defaultdict(list)
    for k, i in enumerate(rows):
        by_shape[tuple(cache["maps"][i].shape)].append(k)
    out = [None] * len(rows)
    for ks in by_shape.values():
        idx = [rows[k] for k in ks]
        s = tail(cache["stats"][idx], stack_maps(cache, idx))
        for k, v in zip(ks, s, strict=True):
            out[k] = v
    return torch.stack(out)


def pair_accuracy(scores: dict[int, float], groups: list[dict]) -> dict[str, float]:
    per_type: dict[str, list[float]] = defaultdict(list)
    for g in groups:
        s = [scores[i] for i in g["idx"]]
        for a in range(len(s)):
            for b in range(a + 1, len(s)):
                per_type[g["type"]].append(1.0 if s[a] > s[b] else 0.0)
    out = {t: float(np.mean(v)) for t, v in per_type.items()}
    out["all"] = float(np.mean([x for v in per_type.values() for x in v]))
    return out


def build_tail(weights: str, split: int, taps: str = "stages") -> Tail:
    net = EfficientNetLite(taps=taps)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc")})
    head = StatsHead(net.tap_channels)
    tail = Tail(net, head, split)
    tail.head_channels = net.tap_channels
    return tail


def frozen_features(tail: Tail, cache: dict, batch: int = 32) -> torch.Tensor:
    """Full multi-level stats of every cached image with the tail at its initial weights."""
    if cache.get("complete"):  # cache_backbone.py: every tap already pooled
        return cache["stats"].float()
    tail.eval()
    with torch.inference_mode():
        shapes: dict[tuple, list[int]] = defaultdict(list)
        for i, m in enumerate(cache["maps"]):
            shapes[tuple(m.shape)].append(i)
        feats = [None] * len(cache["maps"])
        for idx in shapes.values():
            for s in range(0, len(idx), batch):
                chunk = idx[s : s + batch]
                t = tail.tail_stats(stack_maps(cache, chunk))
                for k, i in enumerate(chunk):
                    feats[i] = torch.cat([cache["stats"][i], t[k]])
        return torch.stack(feats)


def ridge_fit_predict(x_tr, y_tr, x_te_list, seed=0):
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # efficient leave-one-out (GCV) choice of alpha, within the training part only
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 25)))
    model.fit(x_tr, y_tr)
    return [model.predict(x) for x in x_te_list], model


def kernel_fit_predict(kind, x_tr, y_tr, x_val, y_val, x_other):
    """RBF SVR or kernel ridge on standardised features; the grid point with the best
    validation SROCC is kept. Returns ([validation, *others] predictions, the choice)."""
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    scaler = StandardScaler().fit(x_tr)
    z_tr, z_val = scaler.transform(x_tr), scaler.transform(x_val)
    dim = z_tr.shape[1]
    if kind == "svr":
        grid = {f"C={c:g} gamma={g:g}/d": SVR(C=c, gamma=g / dim, epsilon=1.0)
                for c in (10, 30, 100, 300) for g in (0.1, 0.3, 1)}
    else:
        grid = {f"alpha={a:g} gamma={g:g}/d": KernelRidge(alpha=a, kernel="rbf", gamma=g / dim)
                for a in (0.03, 0.1, 0.3, 1) for g in (0.1, 0.3, 1)}
    best = (-2.0, "", None)
    for name, model in grid.items():
        model.fit(z_tr, y_tr)
        v = float(spearmanr(model.predict(z_val), y_val)[0])
        if v > best[0]:
            best = (v, name, model)
    model = best[2]
    return [model.predict(z_val)] + [model.predict(scaler.transform(x)) for x in x_other], best[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clive", required=True)
    ap.add_argument("--clive-root", required=True)
    ap.add_argument("--splits", required=True)
    ap.add_argument("--ranked", nargs="*", default=[])
    ap.add_argument("--eval-ranked", default=None)
    ap.add_argument("--ranked-clive", default=None,
                    help="in-domain ranked cache whose references are clive-dev photos: each "
                    "split uses only the groups of photos in its training part")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--mode", choices=["ridge", "svr", "krr", "head", "finetune"], default="head")
    ap.add_argument("--rank-weight", type=float, default=0.0)
    ap.add_argument("--margin", type=float, default=0.5, help="hinge margin, in MOS std units")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rank-groups", type=int, default=2, help="ranked groups per step")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tail-lr", type=float, default=1e-4)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--val-fraction", type=float, default=0.15,
                    help="part of each training part that chooses the epoch; 0: no validation "
                         "part, the head of the last epoch is kept (--epochs fixes the length)")
    ap.add_argument("--split-indices", default="0-9")
    ap.add_argument("--train-fraction", type=float, default=1.0,
                    help="learning curves (head, finetune): train on this part of each "
                         "training part (the same validation and test parts)")
    ap.add_argument("--final", default=None, help="train on all images, save to this path")
    ap.add_argument("--out", required=True, help="JSON results")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-predictions", action="store_true",
                    help="store each split's validation/test indices and predictions in --out")
    ap.add_argument("--extra-clive", default=None,
                    help="a second cache of the same images at another scale (multi-scale head)")
    ap.add_argument("--extra-ranked", nargs="*", default=[])
    ap.add_argument("--extra-eval-ranked", default=None)
    ap.add_argument("--scale-aug", nargs="*", default=[],
                    help="caches of the same clive-dev rows at other input sizes: each training "
                    "sample is drawn at a random one of the sizes (scale augmentation)")
    ap.add_argument("--plcc-weight", type=float, default=0.0,
                    help="adds (1 - Pearson r) of each batch's predictions to the MOS loss")
    ap.add_argument("--members", type=int, default=1,
                    help="ensemble: heads trained from different seeds, predictions averaged")
    ap.add_argument("--taps", choices=["stages", "blocks"], default="stages",
                    help="must match the cache (cache_features.py --taps)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    clive = load_cache(args.clive)
    table = load_iqa_dataset("clive", args.clive_root)
    targets = np.array([r.target for r in table.records])
    n = len(targets)
    # cache rows: image k at rows 2k (original) and 2k+1 (mirror)
    row_of = defaultdict(dict)
    for i, m in enumerate(clive["meta"]):
        row_of[int(m["index"])][int(m["flip"])] = i
    ranked = [load_cache(p) for p in args.ranked]
    if args.ranked_clive:
        ranked.append(load_cache(args.ranked_clive))
    rank_groups = [(k, g) for k, c in enumerate(ranked) for g in ranked_groups(c)]
    in_domain = len(ranked) - 1 if args.ranked_clive else None
    stems = [Path(r.path).stem for r in table.records]
    ev = load_cache(args.eval_ranked) if args.eval_ranked else {"maps": [], "stats": None, "meta": []}
    ev_groups = ranked_groups(ev, flip=0)
    split = int(clive.get("split", 15))

    if args.final:
        splits = [None]
    else:
        all_splits = load_splits(args.splits, table)
        lo, _, hi = args.split_indices.partition("-")
        wanted = range(int(lo), int(hi or lo) + 1)
        splits = [all_splits[k] for k in wanted]

    results = []
    base_tail = build_tail(args.weights, split, args.taps)
    if clive.get("complete"):  # another backbone (cache_backbone.py): a head for its taps
        base_tail.head = StatsHead(tuple(clive["tap_channels"]))
    need_frozen = args.mode in ("ridge", "svr", "krr", "head")
    if need_frozen:
        t0 = time.time()
        feat_clive = frozen_features(base_tail, clive)
        feat_ev = frozen_features(base_tail, ev) if ev["meta"] else torch.zeros(0, 1)
        feat_ranked = [frozen_features(base_tail, c) for c in ranked]
        aug = [feat_clive]  # scale augmentation: the training rows at every cached size
        for path in args.scale_aug:
            other = load_cache(path)
            if [m["id"] for m in other["meta"]] != [m["id"] for m in clive["meta"]]:
                raise SystemExit(f"{path}: rows differ from {args.clive}")
            aug.append(frozen_features(base_tail, other))
        if args.extra_clive:  # multi-scale: the same rows at a second input size, concatenated
            cat = lambda a, b: torch.cat([a, frozen_features(base_tail, load_cache(b))], 1)  # noqa: E731
            feat_clive = cat(feat_clive, args.extra_clive)
            if ev["meta"]:
                feat_ev = cat(feat_ev, args.extra_eval_ranked)
            feat_ranked = [cat(f, p) for f, p in zip(feat_ranked, args.extra_ranked, strict=True)]
            base_tail.head = StatsHead(tuple(base_tail.head_channels) * 2)
        print(f"frozen features in {time.time() - t0:.0f}s", flush=True)

    for sp in splits:
        t0 = time.time()
        if sp is None:
            train_all = np.arange(n)
            test = np.array([], dtype=int)
        else:
            train_all, test = np.array(sp.train), np.array(sp.test)
        rng = np.random.default_rng(1234 + (sp.index if sp else 99))
        perm = rng.permutation(train_all)
        n_val = int(round(args.val_fraction * len(perm)))
        val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        if args.train_fraction < 1:  # nested subsets: a smaller fraction drops photos only
            keep = perm[n_val:][: int(round(args.train_fraction * (len(perm) - n_val)))]
            train = np.sort(keep)
        mu, sd = targets[train].mean(), targets[train].std()
        split_groups = rank_groups
        if in_domain is not None:  # distorted copies of validation/test photos stay out
            allowed = {stems[i] for i in train}
            split_groups = [(k, g) for k, g in rank_groups
                            if k != in_domain or Path(g["ref"]).stem in allowed]

        if args.mode == "ridge":
            # originals only: a mirrored copy would leak into leave-one-out
            x_tr = feat_clive[[row_of[i][0] for i in train_all]].numpy()
            y_tr = targets[train_all]
            rows = lambda idx: feat_clive[[row_of[i][0] for i in idx]].numpy()  # noqa: E731
            x_ev = feat_ev.numpy() if len(ev["meta"]) else rows(val)
            (p_val, p_te, p_ev), _ = ridge_fit_predict(
                x_tr, y_tr, [rows(val), rows(test) if len(test) else rows(val), x_ev]
            )
            ev_scores = {i: float(p_ev[i]) for i in range(len(p_ev))}
            res = {"val_srocc": float(spearmanr(p_val, targets[val])[0])}
        elif args.mode in ("svr", "krr"):
            rows = lambda idx, f=0: feat_clive[[row_of[i][f] for i in idx]].numpy()  # noqa: E731
            x_tr = np.concatenate([rows(train, 0), rows(train, 1)])
            y_tr = np.concatenate([targets[train], targets[train]])
            x_ev = feat_ev.numpy() if len(ev["meta"]) else rows(val)
            (p_val, p_te, p_ev), choice = kernel_fit_predict(
                args.mode, x_tr, y_tr, rows(val), targets[val],
                [rows(test) if len(test) else rows(val), x_ev])
            ev_scores = {i: float(p_ev[i]) for i in range(len(p_ev))}
            res = {"val_srocc": float(spearmanr(p_val, targets[val])[0]), "choice": choice}
        else:
            members = []
            for member in range(args.members):
                torch.manual_seed(member)
                final = args.final
                if args.final and args.members > 1:
                    final = f"{args.final}.m{member}"
                members.append(train_one(
                    args, base_tail, clive, row_of, targets, train, val, test, mu, sd,
                    split_groups, ranked, ev, feat_clive if need_frozen else None,
                    feat_ranked if need_frozen else None, feat_ev if need_frozen else None,
                    seed=7 + member, final=final,
                    aug_features=aug if need_frozen else None,
                ))
            res = members[0][0]
            p_val = np.mean([m[3] for m in members], 0)
            if args.members > 1:  # the ensemble's own validation SROCC (what chooses runs)
                val_srocc = float(spearmanr(p_val, targets[val])[0]) if len(val) else float("nan")
                res = {"val_srocc": val_srocc,
                       "member_val_srocc": [round(m[0]["val_srocc"], 4) for m in members],
                       "best_epochs": [m[0]["best_epoch"] for m in members],
                       "val_histories": [m[0]["val_history"] for m in members]}
            p_te = None if members[0][1] is None else np.mean([m[1] for m in members], 0)
            ev_scores = {i: float(np.mean([m[2][i] for m in members])) for i in members[0][2]}
        if len(test):
            res["test_srocc"] = float(spearmanr(p_te, targets[test])[0])
            res["test_plcc"] = float(pearsonr(p_te, targets[test])[0])
        res["pairs"] = pair_accuracy(ev_scores, ev_groups) if ev_groups else {"all": float("nan")}
        if args.save_predictions:  # for stacking and paired comparisons of runs
            res["predictions"] = {
                "val_index": val.tolist(), "val": np.asarray(p_val, float).round(4).tolist(),
                "test_index": test.tolist(),
                "test": np.asarray(p_te if len(test) else [], float).round(4).tolist(),
                "pairs": [round(ev_scores[i], 4) for i in sorted(ev_scores)],
            }
        res["split"] = sp.index if sp else "all"
        res["seconds"] = round(time.time() - t0, 1)
        print(json.dumps({k: v for k, v in res.items() if k != "predictions"}), flush=True)
        results.append(res)

    summary = {"args": vars(args), "splits": results}
    if not args.final:
        summary["median_test_srocc"] = float(np.median([r["test_srocc"] for r in results]))
        summary["median_test_plcc"] = float(np.median([r["test_plcc"] for r in results]))
        summary["median_pairs"] = float(np.median([r["pairs"]["all"] for r in results]))
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k.startswith("median")}))


def train_one(args, base_tail, clive, row_of, targets, train, val, test, mu, sd, rank_groups,
              ranked, ev, feat_clive, feat_ranked, feat_ev, seed=7, final=None,
              aug_features=None):
    """Train the head (frozen features) or the tail; return val/test predictions."""
    finetune = args.mode == "finetune"
    tail = copy.deepcopy(base_tail)
    # fixed standardisation of the head input: the train part's feature statistics
    with torch.no_grad():
        if feat_clive is not None:
            z = feat_clive[[row_of[i][f] for i in train for f in (0, 1)]]
        else:
            z = frozen_features(tail, {"maps": [clive["maps"][row_of[i][0]] for i in train],
                                       "stats": clive["stats"][[row_of[i][0] for i in train]]})
        tail.head.norm.running_mean.copy_(z.mean(0))
        tail.head.norm.running_var.copy_(z.var(0) + 1e-6)
    for p in tail.blocks.parameters():
        p.requires_grad_(finetune)
    for p in (*tail._conv_head.parameters(), *tail._bn1.parameters()):
        p.requires_grad_(finetune)
    groups = [{"params": tail.head.parameters(), "lr": args.lr}]
    if finetune:
        tail_params = [*tail.blocks.parameters(), *tail._conv_head.parameters(),
                       *tail._bn1.parameters()]
        groups.append({"params": tail_params, "lr": args.tail_lr})
    opt = torch.optim.AdamW(groups, weight_decay=args.weight_decay)
    rng = np.random.default_rng(seed)
    if args.members > 1:  # each member its own initialisation
        for module in tail.head.fc:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    steps_per_epoch = max(1, len(train) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs * steps_per_epoch)

    def predict_clive(idx: np.ndarray) -> np.ndarray:
        tail.eval()
        with torch.inference_mode():
            if feat_clive is not None:
                z = feat_clive[[row_of[i][0] for i in idx]]
                return (tail.head.fc(tail.head.norm(z)).squeeze(1) * sd + mu).numpy()
            out = []
            for s in range(0, len(idx), 32):
                rows = [row_of[i][0] for i in idx[s : s + 32]]
                out.append(tail_scores(tail, clive, rows))
            return (torch.cat(out) * sd + mu).numpy()

    def predict_ev() -> dict[int, float]:
        tail.eval()
        with torch.inference_mode():
            if feat_ev is not None:
                s = tail.head.fc(tail.head.norm(feat_ev)).squeeze(1)
                return {i: float(v) for i, v in enumerate(s)}
            scores = {}
            for g in ranked_groups(ev, flip=0):
                s = tail(ev["stats"][g["idx"]], stack_maps(ev, g["idx"]))
                scores.update({i: float(v) for i, v in zip(g["idx"], s, strict=True)})
            return scores

    best = (-2.0, None, -1)
    history = []
    for epoch in range(args.epochs):
        tail.train()
        tail._bn1.eval()
        for b in tail.blocks:
            b.eval()  # BatchNorm statistics stay the ImageNet ones (small batches)
        tail.head.norm.eval()
        order = rng.permutation(train)
        for s in range(steps_per_epoch):
            idx = order[s * args.batch : (s + 1) * args.batch]
            rows = [row_of[i][int(rng.integers(2))] for i in idx]
            y = torch.tensor((targets[idx] - mu) / sd, dtype=torch.float32)
            if feat_clive is not None and aug_features and len(aug_features) > 1:
                scale = rng.integers(len(aug_features), size=len(rows))
                z = torch.stack([aug_features[int(k)][r] for k, r in zip(scale, rows, strict=True)])
                pred = tail.head.fc(tail.head.norm(z)).squeeze(1)
            elif feat_clive is not None:
                pred = tail.head.fc(tail.head.norm(feat_clive[rows])).squeeze(1)
            else:
                pred = tail_scores(tail, clive, rows)
            loss = F.mse_loss(pred, y)
            if args.plcc_weight > 0:
                pc, yc = pred - pred.mean(), y - y.mean()
                r = (pc * yc).sum() / (pc.norm() * yc.norm() + 1e-8)
                loss = loss + args.plcc_weight * (1 - r)
            if args.rank_weight > 0 and rank_groups:
                rl = 0.0
                for _ in range(args.rank_groups):
                    k, g = rank_groups[int(rng.integers(len(rank_groups)))]
                    c, gi = ranked[k], g["idx"]
                    if feat_ranked is not None:
                        sc = tail.head.fc(tail.head.norm(feat_ranked[k][gi])).squeeze(1)
                    else:
                        sc = tail(c["stats"][gi], stack_maps(c, gi))
                    levels = torch.arange(len(gi))
                    zeros = torch.zeros(len(gi), dtype=torch.long)
                    rl = rl + ranking_hinge_loss(sc, zeros, levels, zeros, margin=args.margin,
                                                 reduction="pairs")
                loss = loss + args.rank_weight * rl / args.rank_groups
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if len(val) == 0:  # no validation part: the last epoch is the model
            best = (float("nan"), tail.state_dict(), epoch)
            continue
        p_val = predict_clive(val)
        v = float(spearmanr(p_val, targets[val])[0])
        history.append(round(v, 4))
        if v > best[0]:
            best = (v, copy.deepcopy(tail.state_dict()), epoch)
    tail.load_state_dict(best[1])
    res = {"val_srocc": best[0], "best_epoch": best[2], "val_history": history}
    p_te = predict_clive(test) if len(test) else None
    p_val = predict_clive(val) if len(val) else np.zeros(0)
    ev_scores = predict_ev()
    if final:
        torch.save({"tail": tail.state_dict(), "mu": float(mu), "sd": float(sd), "split": tail.split},
                   final)
    return res, p_te, ev_scores, p_val


if __name__ == "__main__":
    main()
