#!/bin/sh
# batch-worker.sh: a batch-mode worker; jobsync starts it with up to [worker] batch_size
# task ids on stdin, one a line, then closes stdin.
#
#   [worker]
#   mode = batch
#   command = /opt/jobsync/workers/batch-worker.sh
#   batch_size = 500
#
# Exit 0 = every id of the batch is done; any other exit status fails the whole batch
# (each id is retried up to max_attempts). Write logs to stdout or stderr: they go to the
# node's log. Environment: JOBSYNC_NODE, JOBSYNC_SITE, JOBSYNC_DATE, JOBSYNC_LEADER.
#
# This example reads the batch, pretends to process it in one go (for example one bulk
# INSERT or one API call), and fails the batch when an id starts with "fail-".
set -eu

trap 'echo "batch stopped by SIGTERM" >&2; exit 143' TERM

n=0
status=0
while IFS= read -r id; do
	n=$((n + 1))
	case $id in
	fail-*) echo "batch: id $id is not acceptable" >&2; status=1 ;;
	esac
done

# The real work goes here, once for the whole batch.
sleep "${WORK_SLEEP:-0.1}" &
wait $!

if [ "$status" = 0 ]; then result="done"; else result="failed"; fi
echo "batch of $n ids on ${JOBSYNC_NODE:-?}: $result"
exit "$status"
