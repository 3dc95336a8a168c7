#!/usr/bin/env bash
# demo.sh: a three-node jobsync cluster on this machine, running a sample workload.
#
# It installs what is missing (Debian, as root), builds jobsync, starts a private
# PostgreSQL (its own port and socket directory in a temporary directory; the system's
# PostgreSQL and port 5432 are never touched), starts three nodes that share a range of
# task ids run by contrib/examples/workers/process-task.sh, shows the progress and the
# token spread every 2 s, kills the leader with SIGKILL midway to show the failover,
# waits until every task is done, prints a summary and stops everything (SIGTERM to the
# nodes, which drain and leave; PostgreSQL stopped; the temporary directory removed),
# also on failure or Ctrl-C.
#
#   bash contrib/demo.sh [--quick] [--tasks N] [--no-kill] [--keep]
#
#   --quick      a short run for CI: 600 tasks, progress every second
#   --tasks N    number of tasks (default 3000, or $DEMO_TASKS)
#   --no-kill    no failover: all three nodes run to the end
#   --keep       keep the temporary directory (node logs, PostgreSQL data)
#
# Environment: JOBSYNC=/path/to/jobsync uses that binary instead of building one;
# DEMO_TASKS, DEMO_SLEEP (seconds a task sleeps, default 0.02), DEMO_CONCURRENCY
# (processes per node, default 4), DEMO_TIMEOUT (seconds allowed for the workload,
# default 120), DEMO_INTERVAL (seconds between progress lines, default 2, 1 with --quick),
# JOBSYNC_PG_BIN (PostgreSQL's bin directory), TMPDIR (where the temporary directory goes).
#
# Exit status: 0 when every task was done, 1 otherwise (the node logs are shown).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tasks=${DEMO_TASKS:-}
task_sleep=${DEMO_SLEEP:-0.02}
concurrency=${DEMO_CONCURRENCY:-4}
timeout=${DEMO_TIMEOUT:-120}
interval=${DEMO_INTERVAL:-}
quick=0
do_kill=1
keep=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--tasks) [ $# -ge 2 ] || { echo "demo: --tasks needs a number" >&2; exit 64; }
		tasks=$2; shift ;;
	--tasks=*) tasks=${1#--tasks=} ;;
	--no-kill) do_kill=0 ;;
	--keep) keep=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "demo: unknown option '$1' (see --help)" >&2; exit 64 ;;
	esac
	shift
done
if [ -z "$tasks" ]; then
	if [ "$quick" = 1 ]; then tasks=600; else tasks=3000; fi
fi
if [ -z "$interval" ]; then
	if [ "$quick" = 1 ]; then interval=1; else interval=2; fi
fi
case $tasks in
'' | *[!0-9]* | 0) echo "demo: the number of tasks must be a positive integer" >&2; exit 64 ;;
esac

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }

# ---- packages ---------------------------------------------------------------------------
# PostgreSQL always; the build tools only when we build jobsync ourselves.
packages="postgresql"
if [ -z "${JOBSYNC:-}" ]; then
	packages="build-essential cmake pkg-config libuv1-dev libpq-dev libinih-dev libjansson-dev
libhttp-parser-dev $packages"
fi
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $packages; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
fi
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "demo: missing packages; run as root, or first: sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	step "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Keep the postgresql package from starting a cluster of its own on port 5432.
	policy_rc=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy_rc=1
	fi
	rc=0
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
		>/dev/null || rc=$?
	[ "$policy_rc" = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ "$rc" = 0 ] || { echo "demo: apt-get failed ($rc)" >&2; exit 1; }
fi

# ---- jobsync ------------------------------------------------------------------------------
if [ -n "${JOBSYNC:-}" ]; then
	case $JOBSYNC in
	*/*) js=$(cd "$(dirname "$JOBSYNC")" 2>/dev/null && pwd)/$(basename "$JOBSYNC") ;;
	*) js=$(command -v "$JOBSYNC" || true) ;;
	esac
	if [ ! -f "$js" ] || [ ! -x "$js" ]; then
		echo "demo: JOBSYNC=$JOBSYNC is not an executable" >&2
		exit 1
	fi
else
	step "building jobsync in $here/build"
	buildlog=$(mktemp "${TMPDIR:-/tmp}/jobsync-demo-build.XXXXXX")
	# Configure only a fresh build directory (an existing one keeps its options).
	configure=(true)
	[ -f "$here/build/CMakeCache.txt" ] ||
		configure=(cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
	if ! { "${configure[@]}" &&
		cmake --build "$here/build" -j"$(nproc 2>/dev/null || echo 2)" --target jobsync; } \
		>"$buildlog" 2>&1; then
		tail -n 40 "$buildlog" >&2
		rm -f "$buildlog"
		echo "demo: the build failed" >&2
		exit 1
	fi
	rm -f "$buildlog"
	js=$here/build/jobsync
fi
worker=$here/contrib/examples/workers/process-task.sh
[ -x "$worker" ] || { echo "demo: $worker is missing or not executable" >&2; exit 1; }

pgbin=${JOBSYNC_PG_BIN:-}
if [ -z "$pgbin" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && pgbin=$d # the glob sorts, the last is the newest
	done
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
	echo "demo: PostgreSQL's initdb not found (set JOBSYNC_PG_BIN)" >&2
	exit 1
fi

# ---- temporary directory, cleanup ---------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/jobsync-demo.XXXXXX")
chmod 755 "$work"
names=(demo-a demo-b demo-c-gpu)
pids=()
pg_started=0
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# Stop the nodes (SIGTERM: they drain and leave; SIGKILL after 15 s), PostgreSQL, and
# remove the directory. Runs on every exit path, once.
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$? p i
	trap - EXIT INT TERM HUP
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for i in $(seq 150); do
		local alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$pg_started" = 1 ]; then
		as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_pg "$pgbin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	cd /
	if [ "$keep" = 1 ]; then
		say "demo: kept $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
# shellcheck disable=SC2317 # called by the INT trap
interrupted() { echo; echo "demo: interrupted"; exit 130; }
trap interrupted INT
# A Ctrl-C reaches the nodes too, and bash may drop it for itself when a command ends
# just as it arrives: a node that left on SIGINT means the demo was interrupted.
left_on_ctrl_c() { grep -q "Interrupt: leaving the cluster" "$work/$1.log"; }
trap 'exit 143' TERM
trap 'exit 129' HUP
# Everything of the demo (PostgreSQL, nodes, workers) runs with its working directory in
# $work, so nothing of it can be left behind unnoticed.
cd "$work"

# Local TCP ports in use (hex, from /proc/net/tcp*), to pick free ones.
ports_in_use() { awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
# A free port below the kernel's ephemeral range (where programs that bind port 0, and
# outgoing connections, take theirs), not in $used.
read -r ephemeral_low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || ephemeral_low=32768
port_low=10000
[ "$ephemeral_low" -gt $((port_low + 1000)) ] || port_low=1024
used=""
free_port() {
	local p hex
	while :; do
		p=$(( port_low + (RANDOM * 32768 + RANDOM) % (ephemeral_low - port_low) ))
		hex=$(printf '%04X' "$p")
		case " $used " in *" $p "*) continue ;; esac
		ports_in_use | grep -qx "$hex" && continue
		used="$used $p"
		echo "$p"
		return
	done
}

# ---- PostgreSQL ---------------------------------------------------------------------------
step "starting a private PostgreSQL in $work"
mkdir "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work" "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 --locale=C --no-sync \
	>"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
# A throwaway database: durability off for speed.
for attempt in 1 2 3 4 5; do
	port=$(free_port)
	pg_started=1
	if as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/postgres.log" -w -t 60 \
		-o "-p $port -k $work -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null 2>&1; then
		break
	fi
	pg_started=0
	[ "$attempt" = 5 ] && { tail -n 20 "$work/postgres.log" >&2; echo "demo: PostgreSQL did not start" >&2; exit 1; }
done
as_pg "$pgbin/createdb" -h "$work" -p "$port" -U postgres jobs
say "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'): socket $work, port $port, database jobs"

# ---- the cluster --------------------------------------------------------------------------
# One config for the three nodes; the name and the health port come from the environment.
cat > "$work/node.ini" <<INI
; The demo's node configuration: \${DEMO_NODE} and \${DEMO_LISTEN} are set per node.
[cluster]
dsn = host=$work port=$port dbname=jobs user=postgres
node = \${DEMO_NODE:-demo-cli}
site = demo

[coordination]
; fast timings for the demo (defaults: 5 and 15)
heartbeat_interval_sec = 1
heartbeat_timeout_sec = 3

[tasks]
source = range
range = 1-$tasks
poll_interval_sec = 5

[worker]
mode = exec
command = $worker {}
concurrency = $concurrency
max_attempts = 3
retry_backoff_sec = 1
stop_timeout_sec = 5

[health]
; HTTP health, status and metrics endpoint of each node; empty (the CLI) = off
listen = \${DEMO_LISTEN:-}

; The tokens of tasks 7 and 42 may only go to nodes named like '%-gpu'.
[lock.gpu]
tasks = 7, 42
pattern = %-gpu
reason = needs a GPU
INI
DEMO_LISTEN=127.0.0.1:8080 DEMO_NODE=demo-a "$js" config check "$work/node.ini" >/dev/null
"$js" init-db -c "$work/node.ini" >/dev/null

step "starting three nodes: ${names[*]} ($tasks tasks, $concurrency processes per node, ${task_sleep}s each)"
start=$(date +%s.%N)
for n in "${names[@]}"; do
	# A port picked free can be taken before the node binds it: then try another.
	for attempt in 1 2 3; do
		DEMO_NODE=$n DEMO_LISTEN=127.0.0.1:$(free_port) WORK_SLEEP=$task_sleep \
			"$js" run -c "$work/node.ini" >>"$work/$n.log" 2>&1 &
		pid=$!
		sleep 0.3 # so demo-a is the oldest node, hence the leader
		kill -0 "$pid" 2>/dev/null && break
		wait "$pid" 2>/dev/null || true
		grep -qi "address already in use" "$work/$n.log" && [ "$attempt" -lt 3 ] && continue
		left_on_ctrl_c "$n" && interrupted
		echo "demo: node $n did not start:" >&2
		tail -n 15 "$work/$n.log" >&2
		exit 1
	done
	pids+=("$pid")
done
sleep 0.5
for i in "${!names[@]}"; do
	n=${names[$i]}
	# The node logs its HTTP endpoint, when this build has one:
	# "health: listening on [http://]HOST:PORT ...".
	url=$(sed -n 's/.*health: listening on \([^ ]*\).*/\1/p' "$work/$n.log" | head -n 1)
	case $url in '' | http://*) ;; *) url=http://$url ;; esac
	url=${url%/}${url:+/}
	printf '   %-11s pid %-7s log %s%s\n' "$n" "${pids[$i]}" "$work/$n.log" "${url:+   $url (status, metrics)}"
done

status() { "$js" status -c "$work/node.ini" 2>&1 || true; }
show_status() { step "$1"; status | sed 's/^/   /'; }

# One line from `jobsync status`: elapsed, done/total, and per node its tokens and tasks.
# Sets the globals done_n, failed_n, leader.
progress_line() {
	local s line
	s=$(status)
	line=$(printf '%s\n' "$s" | awk -v total="$tasks" -v t="$1" '
		/^cluster .*leader / { for (i = 1; i <= NF; i++) if ($i == "leader") leader = $(i + 1); sub(",", "", leader) }
		/^ *\*? *NODE +STATE/ { table = 1; next }
		table && NF == 0 { table = 0 }
		table {
			i = ($1 == "*") ? 2 : 1
			name = $i; order[++n] = name; state[name] = $(i + 1)
			tok[name] = $(NF - 1); pct[name] = $NF
		}
		/^progress [0-9-]+:/ {
			gsub(",", ""); done = $6; failed = $8; inflight = $11; prog = 1; next
		}
		prog && /claimed .* done / { gsub(",", ""); pdone[$1] = $5 }
		END {
			printf "%6.1fs  done %d/%d (%3d%%)  failed %d  in flight %d  |", t, done, total, total ? 100 * done / total : 0, failed, inflight
			for (k = 1; k <= n; k++) {
				name = order[k]
				printf "  %s%s %s tokens %s done%s", name, (name == leader ? "*" : ""), tok[name], pdone[name] + 0, (state[name] == "alive" ? "" : " (" state[name] ")")
			}
			printf "\n%d %d %s\n", done, failed, leader
		}')
	printf '%s\n' "$line" | head -n 1
	read -r done_n failed_n leader < <(printf '%s\n' "$line" | tail -n 1)
}

tail_logs() {
	local n
	for n in "${names[@]}"; do
		echo "----- last lines of $n.log -----" >&2
		tail -n 15 "$work/$n.log" >&2 || true
	done
}

step "progress every ${interval}s (* = leader; tokens = this node's share of 10000)"
killed=""
done_n=0 failed_n=0 leader=""
while :; do
	now=$(date +%s.%N)
	elapsed=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
	progress_line "$elapsed"
	[ "$done_n" -ge "$tasks" ] && break
	if [ "$((done_n + failed_n))" -ge "$tasks" ]; then
		echo "demo: every task ran, but $failed_n failed" >&2
		tail_logs
		exit 1
	fi
	# Every node we did not kill must still run.
	for i in "${!names[@]}"; do
		if [ "${names[$i]}" != "$killed" ] && ! kill -0 "${pids[$i]}" 2>/dev/null; then
			left_on_ctrl_c "${names[$i]}" && interrupted
			echo "demo: node ${names[$i]} exited unexpectedly" >&2
			tail_logs
			exit 1
		fi
	done
	if awk -v e="$elapsed" -v t="$timeout" 'BEGIN { exit !(e > t) }'; then
		echo "demo: the workload did not finish within ${timeout}s" >&2
		tail_logs
		exit 1
	fi
	# Midway, kill the leader without warning: its session ends, the next oldest node
	# takes over and moves its tokens; its unfinished tasks run elsewhere once its
	# heartbeat has expired (3 s).
	if [ "$do_kill" = 1 ] && [ -z "$killed" ] && [ "$((done_n * 100))" -ge "$((tasks * 35))" ]; then
		for i in "${!names[@]}"; do
			[ "${names[$i]}" = "${leader:-demo-a}" ] || continue
			killed=${names[$i]}
			kill -KILL "${pids[$i]}" 2>/dev/null || true
			wait "${pids[$i]}" 2>/dev/null || true
			echo "   >>> kill -KILL $killed (pid ${pids[$i]}, the leader) at $done_n/$tasks done"
		done
		sleep 1.5
		show_status "after the SIGKILL of $killed: its session ended, so a new leader moved its tokens at once; its unfinished claims run elsewhere once its heartbeat expires (3 s)"
		echo
		continue
	fi
	sleep "$interval"
done
end=$(date +%s.%N)

show_status "all $tasks tasks done"
step "summary"
awk -v a="$start" -v b="$end" -v n="$tasks" 'BEGIN { printf "   %d tasks in %.1f s (%.0f tasks/s)\n", n, b - a, n / (b - a) }'
# Straight from the tables (a public contract): one audit row per task and date.
psql_bin=$pgbin/psql
[ -x "$psql_bin" ] || psql_bin=psql
if audits=$("$psql_bin" -h "$work" -p "$port" -U postgres -d jobs -Atq -F ' ' -c \
	"SELECT count(*), count(DISTINCT item), count(*) FILTER (WHERE status = 'done'),
	        coalesce(round(avg(duration_ms)), 0) FROM sync_audit WHERE date = current_date" 2>/dev/null); then
	read -r n_audit n_items n_done avg_ms <<<"$audits"
	say "   sync_audit: $n_audit rows for $n_items task ids, $n_done done; a task took ${avg_ms} ms on average"
fi
if [ -n "$killed" ]; then
	say "   $killed was killed with SIGKILL midway: the others took over its tokens at once, and"
	say "   reran the tasks it had claimed but not finished once its heartbeat expired"
fi

step "stopping: SIGTERM to the nodes (they drain and leave), then PostgreSQL"
for i in "${!names[@]}"; do
	[ "${names[$i]}" = "$killed" ] && continue
	kill -TERM "${pids[$i]}" 2>/dev/null || true
done
for i in "${!names[@]}"; do
	[ "${names[$i]}" = "$killed" ] && continue
	rc=0
	wait "${pids[$i]}" || rc=$?
	say "   ${names[$i]} left, exit status $rc"
done
pids=()
if [ "$keep" = 1 ]; then say "   demo done; logs are in $work"; else say "   demo done; $work is removed"; fi
exit 0
