#!/bin/sh
# cronjob.sh: cron test job: appends "S|F|E job instant node attempt run nanoseconds" to
# $CRON_RECORD. MODE: ok (default) | sleep SEC | fail-until N (fails while the attempt < N).
mode=${1:-ok}
rec() {
	printf '%s %s %s %s %s %s %s\n' "$1" "$JOBSYNC_CRON_JOB" "$JOBSYNC_CRON_INSTANT" \
		"$JOBSYNC_NODE" "$JOBSYNC_ATTEMPT" "$JOBSYNC_CRON_RUN" "$(date +%s%N)" >> "$CRON_RECORD"
}
rec S
echo "cron job $JOBSYNC_CRON_JOB attempt $JOBSYNC_ATTEMPT on $JOBSYNC_NODE"
case "$mode" in
sleep) sleep "$2" ;;
fail-until)
	if [ "$JOBSYNC_ATTEMPT" -lt "$2" ]; then
		echo "failing attempt $JOBSYNC_ATTEMPT on purpose" >&2
		rec F
		exit 3
	fi ;;
esac
rec E
exit 0
