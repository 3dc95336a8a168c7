#!/bin/sh
# stream_bad.sh: a misbehaving stream worker: for ids starting with "garbage-" it writes
# a line that is not a reply (once per worker process, tracked in $STATE_DIR), for ids
# starting with "die-" it exits mid-batch (once), otherwise it answers "ID ok".
while IFS= read -r id; do
	case "$id" in
	garbage-*)
		if mkdir "$STATE_DIR/$id" 2>/dev/null; then echo "this is not a reply"; continue; fi ;;
	die-*)
		if mkdir "$STATE_DIR/$id" 2>/dev/null; then exit 3; fi ;;
	esac
	printf 'S %s %s - - %s\n' "$id" "$JOBSYNC_NODE" "$(date +%s%N)" >> "$RECORD"
	printf 'E %s %s - - %s\n' "$id" "$JOBSYNC_NODE" "$(date +%s%N)" >> "$RECORD"
	printf '%s ok\n' "$id"
done
