#!/bin/sh
# batch.sh: batch-mode test worker: reads ids until EOF, logs start/end of each, exits 0.
while IFS= read -r id; do
	printf 'S %s %s - - %s\n' "$id" "$JOBSYNC_NODE" "$(date +%s%N)" >> "$RECORD"
	[ -n "$WORK_SLEEP" ] && sleep "$WORK_SLEEP"
	printf 'E %s %s - - %s\n' "$id" "$JOBSYNC_NODE" "$(date +%s%N)" >> "$RECORD"
done
exit 0
