#!/usr/bin/env bash
# The Processing route of `make demo`: the sample scene of the core demo trained, classified
# and assessed again by qgis_process, QGIS's command-line client, with the plugin enabled in a
# throw-away QGIS profile.
#
#   bash resources/qgis_process_demo.sh OUT [PYTHON]
#
# OUT is the core demo's folder (OUT/scene holds the sample scene); results go to
# OUT/qgis_process/. PYTHON is an interpreter whose packages include torch (default python3):
# QGIS's own Python gets them through PYTHONPATH. The plugin is found on QGIS_PLUGINPATH (make
# exports build/plugins, where `make link` puts the landcover_mlp symlink to the repository).
set -euo pipefail

out=${1:?usage: qgis_process_demo.sh OUT [PYTHON]}
python=${2:-python3}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
plugins=${QGIS_PLUGINPATH:-$repo/build/plugins}
# Debian's /usr/bin/qgis_process wrapper adds $QGIS_OPTS; call the binary itself.
qgis_process=${QGIS_PROCESS:-/usr/bin/qgis_process.bin}
scene=$out/scene
result=$out/qgis_process

if [ ! -f "$scene/sample_scene.tif" ]; then
  echo "No sample scene in $scene: run the core demo first (make demo)." >&2
  exit 1
fi
if [ ! -f "$plugins/landcover_mlp/metadata.txt" ]; then
  echo "No landcover_mlp plugin in $plugins: run make link, or set QGIS_PLUGINPATH." >&2
  exit 1
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
export QGIS_CUSTOM_CONFIG_PATH=$profile QGIS_PLUGINPATH=$plugins QT_QPA_PLATFORM=offscreen
export XDG_RUNTIME_DIR=$profile
PYTHONPATH=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export PYTHONPATH

# qgis_process loads enabled plugins only; this writes [PythonPlugins] landcover_mlp=true into
# the temporary profile, so the user's own QGIS profile is never touched.
"$qgis_process" plugins enable landcover_mlp >"$profile/enable.log" 2>&1 || {
  cat "$profile/enable.log" >&2
  exit 1
}

# run ALGORITHM LOG KEY=VALUE...: one qgis_process run; its log is kept, shown when it fails.
run() {
  local algorithm=$1 log=$2
  shift 2
  if ! "$qgis_process" run "landcover_mlp:$algorithm" -- "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "qgis_process run landcover_mlp:$algorithm failed; full log: $log" >&2
    exit 1
  fi
}
result_of() { sed -n "s/^$1:\t//p" "$2" | tail -n 1; }
percent() { awk -v v="$1" 'BEGIN { printf "%.1f%%", 100 * v }'; }
kappa() { awk -v v="$1" 'BEGIN { printf "%.3f", v }'; }

mkdir -p "$result"
echo
echo "Processing route: qgis_process run landcover_mlp:trainclassify (log: $result/trainclassify.log)"
started=$SECONDS
run trainclassify "$result/trainclassify.log" \
  RASTER="$scene/sample_scene.tif" POLYGONS="$scene/training_polygons.gpkg" \
  CLASS_FIELD=class_name MODEL="$result/model.safetensors" \
  CLASSIFIED="$result/classified.tif" CONFIDENCE="$result/confidence.tif" \
  REPORT="$result/validation.html" LOSS_CURVE="$result/loss_curves.png"
run evaluate "$result/evaluate.log" \
  CLASSIFIED="$result/classified.tif" REFERENCE_POLYGONS="$scene/validation_polygons.gpkg" \
  CLASS_FIELD=class_name CONFUSION_MATRIX="$result/confusion_matrix.csv" \
  REPORT="$result/report.html"

log=$result/trainclassify.log
echo "qgis_process finished in $((SECONDS - started)) s. Results in $result:"
echo "  class map        $(result_of CLASSIFIED "$log")"
echo "  model            $(result_of MODEL "$log")"
echo "  accuracy report  $result/report.html"
echo "Validation (held-out training polygons): OA $(percent "$(result_of OVERALL_ACCURACY "$log")"), kappa $(kappa "$(result_of KAPPA "$log")")"
log=$result/evaluate.log
echo "Independent validation polygons:         OA $(percent "$(result_of OVERALL_ACCURACY "$log")"), kappa $(kappa "$(result_of KAPPA "$log")")"
