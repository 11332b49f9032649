# Sourced by the recipes of the shipped models (scripts/english_phones.sh, english_ink.sh), whose
# last stage packages the run into the package's models folder, replacing the model shipped
# there: that stage runs only with --package, and only from the recipe the model's card names.
#
# package_stage SCRIPT LAST MODEL RECIPE: with the caller's $stage, $stop_stage (empty: LAST with
# --package, else the stage before it), $package, $config and $dry_run, refuse --package with
# another --config, warn of --stop-stage LAST without --package, and with --dry-run print the
# stages `run` selects and exit. `run N` then says whether stage N runs.

package_stage() {
  local script=$1 model=$3 recipe=$4
  last=$2
  [ -n "$stop_stage" ] || stop_stage=$((package ? last : last - 1))
  if [ "$package" = 1 ] && [ "$(realpath -m "$config")" != "$(realpath "$recipe")" ]; then
    echo "$script: --package packages $model, built by $recipe, not $config" >&2
    exit 2
  fi
  if [ "$package" = 0 ] && [ "$stop_stage" -ge "$last" ]; then
    echo "$script: stage $last (package into pipeline/resources/models/$model) runs" \
        "only with --package" >&2
  fi
  if [ "$dry_run" = 1 ]; then
    local stages=() s
    for s in $(seq 0 "$last"); do run "$s" && stages+=("$s"); done
    echo "stages: ${stages[*]}"
    exit 0
  fi
}

run() {
  [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ] && { [ "$1" -lt "$last" ] || [ "$package" = 1 ]; }
}
