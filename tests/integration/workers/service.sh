#!/bin/bash
# service.sh: test service: appends "START node pid term ns leader service" to $1 on start and
# "STOP node pid ns" on SIGTERM (bash: $EPOCHREALTIME, no fork, so STOP is written at once),
# then sleeps until stopped; with $2 it exits with that status after $3 seconds (default 0).
rec=$1
stop() {
	printf 'STOP %s %s %s\n' "$JOBSYNC_NODE" "$$" "${EPOCHREALTIME/./}000" >> "$rec"
	exit 0
}
trap stop TERM
printf 'START %s %s %s %s %s %s\n' "$JOBSYNC_NODE" "$$" "$JOBSYNC_TERM" "${EPOCHREALTIME/./}000" \
	"$JOBSYNC_LEADER" "$JOBSYNC_SERVICE" >> "$rec"
echo "service $JOBSYNC_SERVICE up on $JOBSYNC_NODE in term $JOBSYNC_TERM"
if [ -n "$2" ]; then
	sleep "${3:-0}"
	exit "$2"
fi
while :; do
	sleep 1 &
	wait $! 2>/dev/null
done
