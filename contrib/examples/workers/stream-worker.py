#!/usr/bin/env python3
"""stream-worker.py: a stream-mode worker (Python 3 standard library only).

    [worker]
    mode = stream
    command = /opt/jobsync/workers/stream-worker.py
    procs = 4          ; long-running children
    inflight = 1       ; ids sent to a child before it answers

jobsync starts `procs` copies and keeps them running. Each reads task ids on stdin, one
per line, and answers each on stdout with exactly one line:

    ID ok
    ID fail MESSAGE

(MESSAGE is one line; it is stored in the audit after the last attempt). Answers may come
in any order when inflight > 1. stdout is the protocol: anything else written there
(a stray print, a partial line) makes jobsync stop the child and retry its ids, so logs
go to stderr, which jobsync copies to the node's log. EOF on stdin means "stop": finish
and exit 0. On SIGTERM (drain, task_timeout_sec) exit promptly; unanswered ids are
retried elsewhere. Environment: JOBSYNC_NODE, JOBSYNC_SITE, JOBSYNC_DATE, JOBSYNC_LEADER.

This example sleeps WORK_SLEEP seconds (default 0.01) per id, and fails ids that start
with "fail-".
"""

import os
import signal
import sys
import time

WORK_SLEEP = float(os.environ.get("WORK_SLEEP", "0.01") or "0")


def log(msg):
    """One line on stderr: it ends up in the node's log, never in the protocol."""
    sys.stderr.write("stream-worker[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


def process(task_id):
    """Do the work of one task; return None when done, or a failure message."""
    if task_id.startswith("fail-"):
        return "refusing %s on purpose" % task_id
    if WORK_SLEEP > 0:
        time.sleep(WORK_SLEEP)
    return None


def one_line(text):
    """A failure message must stay on the answer's line."""
    return " ".join(str(text).split()) or "failed"


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Ids are UTF-8 text; surrogateescape keeps any odd byte round-trippable.
    stdin = open(sys.stdin.fileno(), "r", encoding="utf-8", errors="surrogateescape",
                 newline="\n", closefd=False)
    stdout = open(sys.stdout.fileno(), "w", encoding="utf-8", errors="surrogateescape",
                  newline="\n", closefd=False)
    done = 0
    for line in stdin:
        task_id = line.rstrip("\n")
        if not task_id:
            continue
        try:
            error = process(task_id)
        except Exception as e:  # one bad task must not kill the whole worker
            error = "%s: %s" % (type(e).__name__, e)
        if error is None:
            stdout.write("%s ok\n" % task_id)
        else:
            stdout.write("%s fail %s\n" % (task_id, one_line(error)))
        stdout.flush()  # answer now: jobsync waits for it before sending more
        done += 1
    log("stdin closed after %d tasks; exiting" % done)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # jobsync went away: nothing left to answer
        sys.exit(0)
