#!/usr/bin/env bash
# The recipe of rankiqa's packaged default model (docs/model-card.md), end to end on a CPU.
#
#   recipes/default_model.sh [SHARED_DIR] [WORK_DIR]
#
# SHARED_DIR holds data/reference (pristine images), data/clive-dev (LIVE In the Wild subset)
# and weights/alexnet-imagenet-features.pth (torchvision's ImageNet AlexNet conv weights).
# Every step resumes or is skipped when its output exists, so the script can be rerun after
# an interruption. Measured on 2 CPU cores: ~4 min distort, ~16 min ranking, ~25 min
# validation (10 splits), ~2 min final fine-tune.
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work/default-model}
CLIVE="$SHARED/data/clive-dev/ChallengeDB_release"
ALEXNET="$SHARED/weights/alexnet-imagenet-features.pth"
mkdir -p "$WORK"

# 0. Ranked set: 110 pristine photographs x (pristine + 19 TID2013 groups x 4 levels), longer side 384.
rankiqa distort "$SHARED/data/reference" "$WORK/tid384" --preset tid2013 --max-side 384 --seed 0

# 1. Ranking pre-training (RankIQA): ImageNet AlexNet + multi-level stats head, TID layout 9x5x1.
RANK_ARGS=(--data "$WORK/tid384" --out "$WORK/rank" --backbone alexnet --head stats
  --backbone-weights "$ALEXNET" --layout tid --crop-size 224 --optimizer adam --lr 2e-5
  --iters 400 --val-every 100 --seed 0)
rankiqa train-rank "${RANK_ARGS[@]}" --resume auto

# 2. Validation of the fine-tuning recipe: 10 random 80/20 splits of clive-dev, variants
#    (a) ImageNet + fine-tune, (b) ranking + fine-tune (the shipped recipe), (c) ranking only.
FT_ARGS=(--resize 320 --crop-size 224 --test-crops center --iters 150 --batch-size 16
  --optimizer adam --lr 3e-5 --head-lr-mult 10)
if [ ! -s "$WORK/clive-ablation.json" ]; then
  python benchmarks/finetune_clive.py --root "$CLIVE" --backbone-weights "$ALEXNET" \
    --rank-checkpoint "$WORK/rank/best.pt" --head stats --splits 10 "${FT_ARGS[@]}" \
    > "$WORK/clive-ablation.json.tmp"
  mv "$WORK/clive-ablation.json.tmp" "$WORK/clive-ablation.json"
fi

# 3. The final model: the same fine-tuning on all 704 clive-dev images.
FINAL_ARGS=(--dataset clive --root "$CLIVE" --init "$WORK/rank/best.pt" --out "$WORK/finetune"
  --all-images --resize 320 --crop-size 224 --crops center --iters 150 --batch-size 16
  --optimizer adam --lr 3e-5 --head-lr-mult 10 --weight-decay 0 --loss mse --seed 0)
rankiqa finetune "${FINAL_ARGS[@]}" --resume auto

# 4. Package it: safetensors weights + JSON metadata (recipe, validation metrics).
python recipes/package_default.py --checkpoint "$WORK/finetune/best.pt" \
  --ablation "$WORK/clive-ablation.json" --rank-summary "$WORK/rank/summary.json" \
  --out src/rankiqa/weights/default.safetensors
