# Shell helpers the recipe-running experiment scripts share (sourced, not run): the repository, the built
# programs, and a recipe run that can be interrupted and started again.
#
#   . "$(dirname "$0")/lib.sh"
#   experiment_require experiment_ssl_runs          # exits 2 naming what to build when a program is missing
#   train_or_resume "$out/name" training/recipes/ssl/byol.yaml data.batch_size=64 …
experiment_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
experiment_vireo=$experiment_repo/build/bin/vireo

# experiment_require PROGRAM…: bin/vireo and each build/bin/PROGRAM must exist.
experiment_require() {
  local binary
  for binary in "$experiment_vireo" "${@/#/$experiment_repo/build/bin/}"; do
    [ -x "$binary" ] || { echo "$(basename "$0"): build first (make build): no $binary" >&2; exit 2; }
  done
}

# train_or_resume FOLDER RECIPE [override …]: trains RECIPE into FOLDER (evaluating every epoch) unless the
# folder already holds a finished run (a metrics.jsonl with linear_top1); resumes from its checkpoint when
# an earlier attempt was interrupted.
train_or_resume() {
  local folder=$1 recipe=$2
  shift 2
  if [ -f "$folder/metrics.jsonl" ] && grep -q '"linear_top1"' "$folder/metrics.jsonl"; then return; fi
  local resume=false
  [ -f "$folder/checkpoint.safetensors" ] && resume=true
  "$experiment_vireo" train "$recipe" run.dir="$folder" run.resume=$resume eval.every_epochs=1 --progress lines "$@"
}
