# bench_setup.sh — sourced by overhead.sh and end_to_end.sh, the two
# benchmarks of what recording costs work.py: the interpreter (exit 77,
# skipped, without it), a fresh work directory $dir holding work.py, the
# environment that makes python3 send every object through malloc, and
# seconds(), the wall time of a command. Needs $dir and $script_name.
python=/usr/bin/python3
[ -x $python ] || { echo "$script_name: $python missing, skipped"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir" || exit 1
cp "$(dirname "${BASH_SOURCE[0]}")/work.py" "$dir/work.py" || exit 1
export PYTHONHASHSEED=0 PYTHONMALLOC=malloc
seconds() { # command... -> wall seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null || return 1
  end=$(date +%s.%N)
  awk "BEGIN { print $end - $start }"
}
