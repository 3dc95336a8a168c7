#!/bin/sh
# stream.sh: stream-mode test worker: one id per line on stdin, answers "ID ok"
# (or "ID fail MESSAGE" for ids starting with "fail-"), logging start/end to $RECORD.
while IFS= read -r id; do
	printf 'S %s %s - - %s\n' "$id" "$JOBSYNC_NODE" "$(date +%s%N)" >> "$RECORD"
	[ -n "$WORK_SLEEP" ] && sleep "$WORK_SLEEP"
	printf 'E %s %s - - %s\n' "$id" "$JOBSYNC_NODE" "$(date +%s%N)" >> "$RECORD"
	case "$id" in
	fail-*) printf '%s fail on purpose\n' "$id" ;;
	*) printf '%s ok\n' "$id" ;;
	esac
done
