#!/usr/bin/env bash
# Train full-size product experts on one CUDA machine, with a fair way to choose how they mix.
#
#   OUT=/tmp/gpu tools/gpu/train_product_experts.sh        # from the repository root
#
# Runs with the machine's own python3 (torch with CUDA, OpenCV, onnx, onnxruntime, tqdm); no ROS.
# All at once, each training on the GPU with its augmentation in 2 CPU worker processes:
#   - on the train split only (val held out, to choose the expert's weight and the ensemble on):
#     the shipped degradation-trained recipe (128 px, seeds 0 and 1) and the full-size expert
#     recipe (160 px, seeds 5 and 6). Each pair is averaged into one ONNX graph, so what comes
#     back mirrors the shipped set-up (products.onnx = degraded seeds 0 + 1, the expert = 160 px
#     seeds); their val top-1 per epoch is in the logs. No test image is looked at here.
#   - on train + val: more seeds of the 160 px expert (EXPERT_SEEDS, default 7 8 9 10), to ship
#     with the two already trained (seeds 5 and 6) if the val choice says an ensemble helps.
#   - on train + val, when DEGRADED_SEEDS is set: degradation-trained members to rebuild
#     products.onnx from (degraded_s<seed>.onnx).
# SWAP=P adds `--augment p_swap_background=P` to every training (the tenth session's background
# swap, docs/benchmarks/products.md; default 0: the recipes as before). The shipped members
# have the swap since the eleventh session (trained on the CPU); what is left is the expert
# weight checked again on val with train-only copies of them:
#   OUT=... SWAP=0.5 VAL_DEGRADED_SEEDS="0 1" VAL_EXPERT_SEEDS="5 6" DEGRADED_SEEDS= \
#     EXPERT_SEEDS= tools/gpu/train_product_experts.sh
# then, for each weight W: ./gostore products --benchmark --split val --tta --verify \
#   --model $OUT/val_degraded.onnx --expert $OUT/val_expert.onnx --expert-weight W
# Writes under $OUT: val_degraded.onnx, val_expert.onnx, expert_s<seed>.onnx,
# degraded_s<seed>.onnx, logs.tar.gz and summary.txt (at most 8 files come back from the device machine). Every model's recipe (command,
# seed, data hash, torch version, device) is in its ONNX metadata.
# The ninth session's two runs (docs/benchmarks/products.md), each about 6 minutes of one H100:
#   OUT=... EXPERT_SEEDS="7 8 9" tools/gpu/train_product_experts.sh
#   OUT=... EXPERT_SEEDS="10 11 12" VAL_DEGRADED_SEEDS= VAL_EXPERT_SEEDS="7 8" \
#     tools/gpu/train_product_experts.sh
# The device tool carries at most 64 MiB of working tree; the recorded bags (36 MB) do not fit
# with the rest, and this script does not need them: `git rm -r -q --cached bags` and `/bags/` in
# .git/info/exclude for the run, then `git reset -q bags` and drop that line again.
set -u
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT/logs"
export PYTHONPATH="$PWD/src/go_perception:$PWD/src/go_common${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
EPOCHS=${EPOCHS:-240}
EXPERT_SEEDS=${EXPERT_SEEDS-7 8 9 10}
VAL_DEGRADED_SEEDS=${VAL_DEGRADED_SEEDS-0 1} # train only; empty: none
VAL_EXPERT_SEEDS=${VAL_EXPERT_SEEDS-5 6}
DEGRADED_SEEDS=${DEGRADED_SEEDS-} # train + val; empty: none
SWAP=${SWAP-0}
WORK=${WORK:-/tmp/go_experts}
mkdir -p "$WORK"
start=$(date +%s)
stamp() { echo "[$(($(date +%s) - start)) s] $*"; }

$PY -c "import torch, cv2, onnx, onnxruntime; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1
nproc

EXPERT=(--size 160 --widths 48,96,160,256 --augment p_small=0 --augment p_blur=0
  --augment p_jpeg=0 --augment p_noise=0)
DEGRADED=(--size 128 --widths 48,96,160,256)
if [[ $SWAP != 0 ]]; then
  EXPERT+=(--augment "p_swap_background=$SWAP")
  DEGRADED+=(--augment "p_swap_background=$SWAP")
fi
train() { # file, log name, then train_products options
  local file=$1 name=$2; shift 2
  $PY -m go_perception.cli.train_products --device "$DEVICE" --workers 2 --threads 1 \
    --epochs "$EPOCHS" --out "$file" "$@" >"$OUT/logs/$name.txt" 2>&1 &&
    stamp "$name done"
}

for seed in $VAL_DEGRADED_SEEDS; do
  train "$WORK/val_degraded_s$seed.onnx" "val_degraded_s$seed" "${DEGRADED[@]}" --seed "$seed" &
done
for seed in $VAL_EXPERT_SEEDS; do
  train "$WORK/val_expert_s$seed.onnx" "val_expert_s$seed" "${EXPERT[@]}" --seed "$seed" &
done
for seed in $EXPERT_SEEDS; do
  train "$OUT/expert_s$seed.onnx" "expert_s$seed" "${EXPERT[@]}" --seed "$seed" --include-val &
done
for seed in $DEGRADED_SEEDS; do
  train "$OUT/degraded_s$seed.onnx" "degraded_s$seed" "${DEGRADED[@]}" --seed "$seed" --include-val &
done
stamp "trainings started"
wait
stamp "trainings done"

for kind in degraded expert; do
  members=("$WORK"/val_${kind}_s*.onnx)
  [[ ${#members[@]} -ge 2 && -f ${members[0]} ]] || continue
  $PY -m go_perception.core.products.ensemble "${members[@]}" --out "$OUT/val_$kind.onnx" \
    >>"$OUT/logs/ensemble.txt" 2>&1 || echo "ensemble $kind failed"
done
{
  echo "# val top-1 at the last epoch of the train-only runs"
  for f in "$OUT"/logs/val_*.txt; do
    echo "$(basename "$f" .txt): $(grep -o 'val top-1 [0-9.]*' "$f" | tail -1)"
  done
  ls -l "$OUT"
} | tee "$OUT/summary.txt"
tar -C "$OUT" -czf "$OUT/logs.tar.gz" logs && rm -r "$OUT/logs"
stamp "all done"
