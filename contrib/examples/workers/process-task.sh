#!/bin/sh
# process-task.sh: an exec-mode worker; jobsync runs it once per task.
#
#   [worker]
#   mode = exec
#   command = /opt/jobsync/workers/process-task.sh {}
#
# jobsync replaces {} by the task id (one argument, no shell) and also sets, per task:
#   JOBSYNC_TASK_ID  the task id (the same as $1)
#   JOBSYNC_ATTEMPT  1 on the first try, 2 on the first retry, ...
#   JOBSYNC_FENCE    the claim's fencing number: pass it to whatever you write, so a
#                    write from a stale attempt can be refused downstream
#   JOBSYNC_NODE, JOBSYNC_SITE, JOBSYNC_DATE (YYYY-MM-DD), JOBSYNC_LEADER (0/1)
#
# Exit 0 = done. Any other exit status fails the attempt: jobsync retries it up to
# [worker] max_attempts with backoff, then audits it as failed with the exit status and
# the last line of stderr. stdout and stderr go to the node's log, one line per line,
# prefixed with the task id. On stop (drain, task_timeout_sec, fencing) the process group
# gets [worker] stop_signal (TERM), then SIGKILL after stop_timeout_sec.
#
# This example only pretends to work: it sleeps WORK_SLEEP seconds (default 0.1), and
# fails ids that start with "fail-" so retries and failed audits can be seen.
set -eu

id=${1:-${JOBSYNC_TASK_ID:-}}
if [ -z "$id" ]; then
	echo "usage: process-task.sh TASK_ID (or JOBSYNC_TASK_ID in the environment)" >&2
	exit 64
fi

# Stop promptly and say so when jobsync asks (drain, timeout).
trap 'echo "task $id: stopped by SIGTERM" >&2; exit 143' TERM

case $id in
fail-*)
	echo "task $id: refusing on purpose (attempt ${JOBSYNC_ATTEMPT:-1})" >&2
	exit 1
	;;
esac

# The real work goes here, e.g.:  /opt/billing/process-invoice "$id" --fence "$JOBSYNC_FENCE"
# (sleep in the background and wait, so the TERM trap runs at once)
sleep "${WORK_SLEEP:-0.1}" &
wait $!

if [ -n "${WORK_VERBOSE:-}" ]; then
	echo "task $id done on ${JOBSYNC_NODE:-?} (attempt ${JOBSYNC_ATTEMPT:-1}, fence ${JOBSYNC_FENCE:-?}, date ${JOBSYNC_DATE:-?})"
fi
exit 0
