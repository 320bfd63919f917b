#!/usr/bin/env bash
# Train the product and simulator-pose networks on one CUDA machine, in one go, and measure them.
#
#   OUT=/tmp/gpu tools/gpu/train_models.sh        # from the repository root
#
# Runs with the machine's own python3 (torch with CUDA, OpenCV, onnx, onnxruntime, tqdm, PyYAML);
# no ROS is needed. What it does, all in parallel:
#   - renders the pose training set (4 x 1500 frames, seeds 11-14) and the held-out set (300
#     frames, seed 2: the same held-out renders as docs/benchmarks/perception.md);
#   - trains three product-network configurations twice each: on train only (their val top-1
#     picks the configuration; no test image is looked at for the choice) and on train + val (the
#     model that ships), then measures every train+val model on the test split;
#   - trains two pose networks on the pooled renders and measures PCK@0.1 on the held-out set.
#     (The earlier pose recipe, without shelf groups; the shipped network's: tools/gpu/train_pose.sh.)
# Writes under $OUT: the models, a log per run and summary.txt. Augmentation runs on the CPU with
# per-sample seeds, so the same command on a CPU gives the same sample stream.
set -u
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT/logs"
export PYTHONPATH="$PWD/src/go_perception:$PWD/src/go_common:$PWD/src/go_sensors${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
PRODUCT_EPOCHS=${PRODUCT_EPOCHS:-240}
POSE_EPOCHS=${POSE_EPOCHS:-40}
DATA=/tmp/go_pose
start=$(date +%s)
stamp() { echo "[$(($(date +%s) - start)) s] $*"; }

$PY -c "import torch, cv2, onnx, onnxruntime; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1

# --- pose renders (CPU) -------------------------------------------------------------------------
for seed in 11 12 13 14; do
  $PY -m go_sensors.cli.pose_dataset --store small --out $DATA/train_$seed --frames "${FRAMES:-1500}" --seed $seed \
    >"$OUT/logs/pose_data_$seed.txt" 2>&1 &
done
$PY -m go_sensors.cli.pose_dataset --store small --out $DATA/val --frames "${VAL_FRAMES:-300}" --seed 2 \
  >"$OUT/logs/pose_data_val.txt" 2>&1 &

# --- products ------------------------------------------------------------------------------------
product() { # name, then train_products options
  local name=$1; shift
  $PY -m go_perception.cli.train_products --device "$DEVICE" --workers 2 --threads 1 \
    --epochs "$PRODUCT_EPOCHS" --seed 0 --out "$OUT/products_$name.onnx" "$@" \
    >"$OUT/logs/products_$name.txt" 2>&1
}
measure() { # name
  $PY -m go_perception.cli.products --benchmark --threads 1 --model "$OUT/products_$1.onnx" \
    --json "$OUT/logs/products_$1_test.json" >>"$OUT/logs/products_$1.txt" 2>&1
}
declare -A widths=([s64]=32,64,128,192 [s96]=48,96,160,256 [s128]=48,96,160,256)
declare -A sizes=([s64]=64 [s96]=96 [s128]=128)
PARTS=${PARTS:-products pose} # either or both
for name in s64 s96 s128; do
  [[ " $PARTS " == *" products "* ]] || break
  product "${name}_val" --size "${sizes[$name]}" --widths "${widths[$name]}" &
  (product "$name" --size "${sizes[$name]}" --widths "${widths[$name]}" --include-val &&
    measure "$name") &
done
stamp "product training started"

wait_for_renders() { while pgrep -f go_sensors.cli.pose_dataset >/dev/null; do sleep 2; done; }
wait_for_renders
stamp "pose renders done: $(du -sh $DATA | cut -f1)"

# --- pose ----------------------------------------------------------------------------------------
pose() { # name, then train_pose options
  local name=$1; shift
  $PY -m go_perception.cli.train_pose --dataset $DATA/train_1{1,2,3,4} --val $DATA/val \
    --device "$DEVICE" --threads 1 --epochs "$POSE_EPOCHS" --seed 0 --batch-size 64 \
    --out "$OUT/pose_$name.onnx" --report "$OUT/logs/pose_$name.json" "$@" \
    >"$OUT/logs/pose_$name.txt" 2>&1
}
if [[ " $PARTS " == *" pose "* ]]; then
  pose w16_64x48 --width 16 --input 64x48 &
  pose w32_128x96 --width 32 --input 128x96 &
fi
wait
stamp "all done"

{
  echo "# products: val top-1 at the last epoch (train only), then test figures (train + val)"
  for name in s64 s96 s128; do
    echo "$name val: $(grep -o 'epoch [0-9]*: loss [0-9.]* val top-1 [0-9.]*' "$OUT/logs/products_${name}_val.txt" | tail -1)"
    $PY - "$OUT/logs/products_${name}_test.json" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print("  test: missing", e); sys.exit()
sizes = {k: v for k, v in d.items() if "px" in k or "size" in k}
print(f"  test top-1 {d['top1']:.4f} top-3 {d['top3']:.4f}", json.dumps(sizes)[:400])
EOF
  done
  echo "# pose PCK@0.1 on held-out renders"
  for f in "$OUT"/logs/pose_*.json; do echo "$f: $(cat "$f" | head -c 300)"; done
} | tee "$OUT/summary.txt"
tar -C "$OUT" -czf "$OUT/logs.tar.gz" logs && rm -r "$OUT/logs"
rm -f "$OUT"/products_*_val.onnx # the configuration choice is in the summary; these do not ship
