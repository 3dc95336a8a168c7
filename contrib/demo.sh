#!/usr/bin/env bash
# demo.sh: build jobsync, start a private PostgreSQL and three nodes, show the
# cluster forming, failing over and draining, then stop everything.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
pgbin=/usr/lib/postgresql/15/bin
packages="build-essential cmake pkg-config libuv1-dev libpq-dev libinih-dev libjansson-dev
libhttp-parser-dev libcmocka-dev postgresql"

need_install=0
for p in $packages; do
	dpkg -s "$p" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" = 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "demo: missing packages; run as root or: sudo apt-get install -y $packages" >&2
		exit 1
	fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
fi

cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j2 --target jobsync >/dev/null
js="$here/build/jobsync"

work=$(mktemp -d /tmp/jobsync-demo.XXXXXX)
chmod 755 "$work"
pids=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	as_pg "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" = 0 ] && chown postgres "$work"
port=$(( 56000 + RANDOM % 2000 ))
as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
	-o "-p $port -k $work -c listen_addresses=''" start >/dev/null
as_pg "$pgbin/createdb" -h "$work" -p "$port" -U postgres jobs

cat > "$work/node.ini" <<INI
[cluster]
dsn = host=$work port=$port dbname=jobs user=postgres
node = \${NODE:-operator}

[coordination]
heartbeat_interval_sec = 1
heartbeat_timeout_sec = 3

[lock.gpu]
tasks = render-1, render-2
pattern = %-gpu
reason = needs a GPU
INI

start_node() {
	NODE=$1 "$js" run -c "$work/node.ini" 2>"$work/$1.log" &
	pids+=($!)
}
show() { echo; echo "== $1"; "$js" status -c "$work/node.ini" 2>/dev/null | sed 's/^/   /'; }

NODE=demo-a "$js" config check "$work/node.ini"
start_node demo-a; sleep 1
start_node demo-b; sleep 0.3
start_node demo-c-gpu
sleep 3.5
show "three nodes: demo-a leads, the gpu tasks' tokens are pinned to demo-c-gpu"

echo; echo "== tokens of some task ids"
"$js" token -c "$work/node.ini" render-1 render-2 invoice-42 | sed 's/^/   /'

kill -KILL "${pids[0]}"
sleep 3
show "demo-a was killed (SIGKILL): demo-b leads, its tokens moved"

kill -TERM "${pids[1]}"
wait "${pids[1]}" || true
sleep 1
show "demo-b left gracefully (SIGTERM): demo-c-gpu holds everything"

kill -TERM "${pids[2]}"
wait "${pids[2]}" || true
echo; echo "== demo done; node logs were in $work (now removed)"
