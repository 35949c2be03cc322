#!/usr/bin/env bash
# Time the README's main job (train, test, deploy on the bundled digits set;
# the install step left out) in two or more checkouts, interleaved, so that
# each turn sees the same load on the machine.
#
#   tools/time_main_job.sh [--turns N] CHECKOUT ...   > main_job.tsv
#
# Each CHECKOUT is a clone or `git worktree` of mmtricks (e.g. the commit
# before a speed change and main); the python on PATH must have mmtricks'
# dependencies. The checkout is put first on PYTHONPATH, so its own mmtricks
# is the one imported. Torch thread variables are unset: the job runs as a
# user would run it. Logs go to CHECKOUT/work_dirs/main_job_turnN.log.
set -euo pipefail
turns=1
if [ "${1:-}" = --turns ]; then turns=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [--turns N] CHECKOUT ..." >&2; exit 2; }
unset OMP_NUM_THREADS MKL_NUM_THREADS
now() { date +%s.%N; }
echo -e "turn\tcheckout\tcommit\ttrain_s\ttest_s\tdeploy_s\ttotal_s\tload1_at_start"
for turn in $(seq 1 "$turns"); do
  for checkout in "$@"; do
    cd "$checkout"
    work=work_dirs/auto_mbv3 log=work_dirs/main_job_turn$turn.log
    rm -rf "$work"; mkdir -p work_dirs
    load=$(cut -d' ' -f1 /proc/loadavg)
    export PYTHONPATH="$PWD"
    a=$(now)
    mim train mmpretrain configs/auto_mbv3.py --work-dir "$work" > "$log" 2>&1
    b=$(now)
    mim test mmpretrain configs/auto_mbv3.py \
      --checkpoint "$work/best_auto_epochs.pth" >> "$log" 2>&1
    c=$(now)
    python tools/deploy.py configs/auto_mbv3.py "$work/best_auto_epochs.pth" \
      --work-dir "$work/deploy" >> "$log" 2>&1
    d=$(now)
    printf '%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%s\n' "$turn" "$checkout" \
      "$(git rev-parse --short HEAD)" "$(echo "$b - $a" | bc)" \
      "$(echo "$c - $b" | bc)" "$(echo "$d - $c" | bc)" \
      "$(echo "$d - $a" | bc)" "$load"
  done
done
