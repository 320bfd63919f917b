#!/usr/bin/env bash
# Set up the go workspace on a fresh Debian 12/13 machine with Python 3.11+:
#   apt packages (cmake, g++, opencv-doc test media) -> .gostore/venv with pinned wheels
#   -> pretrained models converted to ONNX -> colcon build of src/ into .gostore/{build,install}.
# Each step keeps a stamp (sha256 of its inputs) so a second run with nothing changed does nothing.
# usage: tools/setup/setup.sh [--quiet] [--force]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SETUP="$ROOT/tools/setup"
STATE="$ROOT/.gostore"
VENV="$STATE/venv"
LOGS="$STATE/logs"
QUIET=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --quiet) QUIET=1 ;;
    --force) FORCE=1 ;;
    -h|--help)
      sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
      exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { [ "$QUIET" = 1 ] || echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }
mkdir -p "$STATE" "$LOGS"

# Hash of the given files (missing files hash as their name) plus any extra words.
digest() {
  local f
  for f in "$@"; do
    if [ -f "$f" ]; then sha256sum "$f"; else echo "$f"; fi
  done | sha256sum | cut -d' ' -f1
}
stamp_ok() { [ "$FORCE" = 0 ] && [ -f "$STATE/stamp.$1" ] && [ "$(cat "$STATE/stamp.$1")" = "$2" ]; }
stamp_write() { echo "$2" > "$STATE/stamp.$1"; }
run_logged() {  # run_logged NAME cmd... : output to a log, tail shown on failure
  local name=$1; shift
  if ! "$@" > "$LOGS/$name.log" 2>&1; then
    tail -n 30 "$LOGS/$name.log" >&2
    die "step '$name' failed; full log: $LOGS/$name.log"
  fi
}

# --- 1. Python -------------------------------------------------------------------------------
PY=${GOSTORE_PYTHON:-python3}
command -v "$PY" > /dev/null || die "no '$PY' on PATH: install Python 3.11 (Debian: apt-get install python3 python3-venv python3-dev)"
PYVER=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
case "$PYVER" in
  3.11|3.12|3.13) ;;
  *) die "unsupported Python $PYVER ($(command -v "$PY")): the ROS 2 Kilted wheels and pinned packages need Python 3.11, 3.12 or 3.13; set GOSTORE_PYTHON to one" ;;
esac
"$PY" -c 'import venv, ensurepip' 2> /dev/null || die "Python $PYVER lacks venv/ensurepip (Debian: apt-get install python3-venv)"

# --- 2. apt packages -------------------------------------------------------------------------
missing=()
command -v cmake > /dev/null || missing+=(cmake)
command -v g++ > /dev/null || missing+=(g++)
command -v make > /dev/null || missing+=(make)
[ -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ] || missing+=(opencv-doc)
"$PY" -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' \
  || missing+=("python${PYVER}-dev")
if [ ${#missing[@]} -gt 0 ]; then
  say "installing apt packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  command -v apt-get > /dev/null || die "missing ${missing[*]} and no apt-get to install them; install them by hand"
  run_logged apt bash -c "$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q ${missing[*]}"
fi

# --- 3. virtual environment ------------------------------------------------------------------
venv_key=$(digest "$SETUP/requirements-ros.txt" "$SETUP/requirements.txt" "$SETUP/requirements-torch.txt" <(echo "$PYVER"))
if ! stamp_ok venv "$venv_key" || [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV (pinned ROS 2 Kilted wheels, numpy, OpenCV, onnxruntime, torch; ~1-2 min)"
  [ -x "$VENV/bin/python" ] || run_logged venv "$PY" -m venv "$VENV"
  run_logged pip-upgrade "$VENV/bin/pip" install -q --upgrade pip
  run_logged pip "$VENV/bin/pip" install -r "$SETUP/requirements-ros.txt" -r "$SETUP/requirements.txt"
  run_logged pip-torch "$VENV/bin/pip" install -r "$SETUP/requirements-torch.txt"
  stamp_write venv "$venv_key"
fi

# --- 4. pretrained models (converted once, cached) ---------------------------------------------
if [ -x "$SETUP/models.sh" ]; then
  models_key=$(digest "$SETUP/models.sh" "$SETUP"/models/* )
  if ! stamp_ok models "$models_key"; then
    say "converting pretrained person/pose models to ONNX (~1-2 min, once)"
    run_logged models "$SETUP/models.sh" "$STATE/models"
    stamp_write models "$models_key"
  fi
fi

# --- 5. colcon build ---------------------------------------------------------------------------
# Rebuild when an interface, a package manifest, a setup.py or the set of nodes changes; Python
# sources are symlinked (--symlink-install), so editing them needs no rebuild.
build_inputs=$(cd "$ROOT" && find src -path '*/test' -prune -o \( -name package.xml -o -name CMakeLists.txt \
  -o -name setup.py -o -name setup.cfg -o -name '*.msg' -o -name '*.srv' -o -name '*_node.py' \
  -o -path '*/config/*' \) -type f -print | sort)
build_key=$(cd "$ROOT" && digest colcon.meta "$SETUP/wheel_fixups.cmake" $build_inputs <(echo "$build_inputs"))
if ! stamp_ok build "$build_key" || [ ! -f "$STATE/install/setup.bash" ]; then
  say "building the workspace with colcon (~30 s)"
  skip=()
  # Use the real tf2_msgs where a full ROS 2 install provides it; build the fallback otherwise.
  for prefix in ${AMENT_PREFIX_PATH:+${AMENT_PREFIX_PATH//:/ }}; do
    case "$prefix" in "$STATE"/install*) continue ;; esac
    if [ -f "$prefix/share/tf2_msgs/package.xml" ]; then skip=(--packages-skip tf2_msgs); fi
  done
  run_logged colcon bash -c "
    source '$VENV/bin/activate'
    export AMENT_PREFIX_PATH='$VENV'\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}
    export CMAKE_PREFIX_PATH='$VENV'\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}
    cd '$ROOT'
    colcon --log-base '$STATE/log' build --symlink-install --base-paths src \
      --build-base '$STATE/build' --install-base '$STATE/install' ${skip[*]:-} \
      --metas colcon.meta --event-handlers console_direct- \
      --cmake-args -DPython3_EXECUTABLE='$VENV/bin/python' \
      -DCMAKE_PROJECT_INCLUDE='$SETUP/wheel_fixups.cmake'"
  stamp_write build "$build_key"
fi

say "ready: source tools/env.sh (or use ./gostore)"
