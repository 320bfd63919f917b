#!/usr/bin/env bash
# Train simulator-pose networks of several sizes on one CUDA machine and measure them.
#
#   OUT=/tmp/gpu tools/gpu/train_pose.sh            # from the repository root
#   OUT=/tmp/gpu CONFIGS="w32_128x96:30" tools/gpu/train_pose.sh
#
# Renders the pose training set (4 x 1500 frames, seeds 11-14, and 2000 frames of shelf groups,
# seed 15) and the held-out set (300 frames, seed 2): the data of the shipped pose_sim.onnx
# (src/go_perception/models/README.md; CONFIGS=w32_128x96:30 is its recipe). Then
# trains one network per CONFIGS entry (wWIDTH_HxW:EPOCHS), all in parallel, each with its own
# timeout (LIMIT_S) and WORKERS processes making its batches. Writes under $OUT: pose_<name>.onnx,
# pose_<name>.json (PCK@0.1 on the held-out renders, with and without flip test), the logs and
# summary.txt. Needs the machine's python3 with torch (CUDA), OpenCV, onnx, onnxruntime, tqdm
# and PyYAML.
#
# Measured on one H100 machine (16 CPU cores, 2026-11-27): the batches, not the GPU, set the pace.
# Three 128 x 96 trainings at once ran at 12-14 steps/s each with no workers and 20-46 steps/s
# with 4 workers each; 30 epochs are 8250 steps of batch 64. Neither run finished inside the
# session's 15 GPU minutes: give one configuration all the cores (WORKERS=14) and check
# its rate in the log before planning a longer one. The tracked tree (78 MB with the bags and the
# product models) is over the device tool's 64 MiB: for the call, `git rm -r --cached -q bags
# src/go_perception/models/products*.onnx`, list them in .git/info/exclude, and `git reset -q
# HEAD -- ...` afterwards (nothing is committed in between).
set -u
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src/go_perception:$PWD/src/go_common:$PWD/src/go_sensors${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
CONFIGS=${CONFIGS:-w32_128x96:30}
LIMIT_S=${LIMIT_S:-420}
WORKERS=${WORKERS:-14} # batch-making processes per training (see PoseTrainConfig.workers)
DATA=${DATA:-/tmp/go_pose}
start=$(date +%s)
stamp() { echo "[$(($(date +%s) - start)) s] $*"; }

$PY -c "import torch, cv2, onnx, onnxruntime; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1
for seed in 11 12 13 14; do
  $PY -m go_sensors.cli.pose_dataset --store small --out $DATA/train_$seed --frames "${FRAMES:-1500}" --seed $seed \
    >"$OUT/pose_data_$seed.log" 2>&1 &
done
$PY -m go_sensors.cli.pose_dataset --store small --out $DATA/groups_15 --frames "${GROUP_FRAMES:-2000}" --seed 15 \
  --shelf-groups 0.7 >"$OUT/pose_data_15.log" 2>&1 &
$PY -m go_sensors.cli.pose_dataset --store small --out $DATA/val --frames "${VAL_FRAMES:-300}" --seed 2 \
  >"$OUT/pose_data_val.log" 2>&1 &
wait
stamp "renders done: $(du -sh $DATA | cut -f1)"

for config in $CONFIGS; do
  name=${config%%:*}; epochs=${config##*:}; width=${name%%_*}; width=${width#w}; input=${name#*_}
  timeout "$LIMIT_S" $PY -m go_perception.cli.train_pose --dataset $DATA/train_1{1,2,3,4} $DATA/groups_15 --val $DATA/val \
    --device "$DEVICE" --threads 1 --workers "$WORKERS" --epochs "$epochs" --seed 0 --batch-size 64 --width "$width" \
    --input "$input" --out "$OUT/pose_${name}_e$epochs.onnx" --report "$OUT/pose_${name}_e$epochs.json" \
    >"$OUT/pose_${name}_e$epochs.log" 2>&1 &
done
wait
stamp "training done"
for f in "$OUT"/pose_*.json; do echo "$f: $(head -c 400 "$f")"; done | tee "$OUT/summary.txt"
tar -C "$OUT" -czf "$OUT/logs.tar.gz" $(cd "$OUT" && ls *.log) && rm "$OUT"/*.log
