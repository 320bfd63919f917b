# Runtime environment of the go workspace. Usage: source tools/env.sh
# Sets: the project venv, colcon's setup.bash of the workspace, ROS_AUTOMATIC_DISCOVERY_RANGE
# (LOCALHOST unless already set: multi-host is a configuration for real stores), the Fast DDS
# large-data profile (big images over shared memory), and the `ros2run PKG EXE` helper.
_go_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -x "$_go_root/.gostore/venv/bin/python" ]; then
  # shellcheck disable=SC1091
  source "$_go_root/.gostore/venv/bin/activate"
  case ":${AMENT_PREFIX_PATH:-}:" in
    *":$_go_root/.gostore/venv:"*) ;;
    *) export AMENT_PREFIX_PATH="$_go_root/.gostore/venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
  esac
fi
if [ -f "$_go_root/.gostore/install/setup.bash" ]; then
  # shellcheck disable=SC1091
  source "$_go_root/.gostore/install/setup.bash"
fi
# Import the Python packages from the source tree, ahead of their installed copies, so edits and
# new modules are live without a rebuild (colcon installs ament_python packages as copies here).
for _go_pkg in "$_go_root"/src/go_*/setup.py; do
  _go_pkg=$(dirname "$_go_pkg")
  case ":${PYTHONPATH:-}:" in
    *":$_go_pkg:"*) ;;
    *) export PYTHONPATH="$_go_pkg${PYTHONPATH:+:$PYTHONPATH}" ;;
  esac
done
unset _go_pkg
export GOSTORE_ROOT="$_go_root"
export GOSTORE_MODELS="${GOSTORE_MODELS:-$_go_root/.gostore/models}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_go_root/tools/fastdds/loopback_large_data.xml}"
export PYTHONUNBUFFERED=1
ros2run() {
  local pkg=$1 exe=$2 prefix
  shift 2
  for prefix in ${AMENT_PREFIX_PATH//:/ }; do
    if [ -x "$prefix/lib/$pkg/$exe" ]; then "$prefix/lib/$pkg/$exe" "$@"; return; fi
  done
  echo "ros2run: no executable '$exe' in package '$pkg'" >&2
  return 127
}
unset _go_root
