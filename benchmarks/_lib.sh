# shellcheck shell=bash
# Shared by the benchmark scripts (sourced): timed ansible-playbook runs and what their output says.
# The caller sets $log, a directory for the runs' output.
: "${log:?the caller sets log, a directory for the output of the runs}"

run() {  # run <name> <ansible-playbook args...>: prints elapsed seconds, keeps the output in $log/<name>
  local name=$1 start end
  shift
  start=$(date +%s.%N)
  ansible-playbook "$@" >"$log/$name" 2>&1 || { cat "$log/$name"; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
recap() { grep -oP "$2=\K[0-9]+" <(grep -A1 'PLAY RECAP' "$log/$1" | tail -1); }  # recap <name> <counter>
tasks() { grep -cE '^(TASK|RUNNING HANDLER) \[' "$log/$1"; }                      # tasks <name>
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }  # of stdin
