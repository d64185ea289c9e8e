#!/bin/sh
# run-if-present.sh DIR COMMAND... — runs COMMAND when DIR exists, else
# exits 77 (meson's "skipped"): the shared traces live outside the project.
dir=$1
shift
[ -d "$dir" ] || { echo "skipped: $dir is absent"; exit 77; }
exec "$@"
