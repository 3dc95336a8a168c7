#!/bin/sh
# marked_stream.sh: stream-mode worker of the reload tests: `marked_stream.sh MARK` reads
# one id per line, appends "S|E id node mark pid nanoseconds" to $RECORD around a sleep of
# $WORK_SLEEP and answers "ID ok"; on EOF it appends "X - node mark pid nanoseconds".
mark=$1
while IFS= read -r id; do
	printf 'S %s %s %s %s %s\n' "$id" "$JOBSYNC_NODE" "$mark" "$$" "$(date +%s%N)" >> "$RECORD"
	[ -n "$WORK_SLEEP" ] && sleep "$WORK_SLEEP"
	printf 'E %s %s %s %s %s\n' "$id" "$JOBSYNC_NODE" "$mark" "$$" "$(date +%s%N)" >> "$RECORD"
	printf '%s ok\n' "$id"
done
printf 'X - %s %s %s %s\n' "$JOBSYNC_NODE" "$mark" "$$" "$(date +%s%N)" >> "$RECORD"
