#!/bin/sh
# record.sh: exec-mode test worker: logs start and end of each task to $RECORD
# ("S|E id node fence attempt nanoseconds"), sleeps $WORK_SLEEP (default 0), and fails
# with status 3 when the id starts with "fail-".
id=$1
printf 'S %s %s %s %s %s\n' "$id" "$JOBSYNC_NODE" "$JOBSYNC_FENCE" "$JOBSYNC_ATTEMPT" "$(date +%s%N)" >> "$RECORD"
[ -n "$WORK_SLEEP" ] && sleep "$WORK_SLEEP"
printf 'E %s %s %s %s %s\n' "$id" "$JOBSYNC_NODE" "$JOBSYNC_FENCE" "$JOBSYNC_ATTEMPT" "$(date +%s%N)" >> "$RECORD"
case "$id" in fail-*) echo "failing $id on purpose" >&2; exit 3 ;; esac
exit 0
