#!/bin/sh
# marked.sh: exec-mode worker of the reload tests: `marked.sh MARK ID` appends
# "S|E id node mark attempt nanoseconds" to $RECORD around a sleep of $WORK_SLEEP.
mark=$1
id=$2
printf 'S %s %s %s %s %s\n' "$id" "$JOBSYNC_NODE" "$mark" "$JOBSYNC_ATTEMPT" "$(date +%s%N)" >> "$RECORD"
[ -n "$WORK_SLEEP" ] && sleep "$WORK_SLEEP"
printf 'E %s %s %s %s %s\n' "$id" "$JOBSYNC_NODE" "$mark" "$JOBSYNC_ATTEMPT" "$(date +%s%N)" >> "$RECORD"
exit 0
