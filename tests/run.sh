#!/usr/bin/env bash
# tests/run.sh: build jobsync and run every test (unit and integration) with ctest.
#
#   bash tests/run.sh              # build/ with -Werror, then ctest
#   bash tests/run.sh --sanitize   # build-san/ with ASan + UBSan, then ctest
#   bash tests/run.sh -- -R integration_test_locks   # extra arguments go to ctest
#
# Run as root on Debian/Ubuntu, it first installs the packages that are missing.
# Integration tests start a private PostgreSQL (no system service is touched).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SANITIZE=0
CTEST_ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--sanitize) SANITIZE=1 ;;
	--) shift; CTEST_ARGS+=("$@"); break ;;
	-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
	*) echo "tests/run.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
	esac
	shift
done

PACKAGES=(build-essential cmake pkg-config libuv1-dev libpq-dev libinih-dev libjansson-dev
	libhttp-parser-dev libcmocka-dev postgresql python3 python3-psycopg2 python3-yaml
	python3-pil chromium fonts-dejavu-core)

install_missing() {
	command -v dpkg-query >/dev/null 2>&1 || return 0
	local missing=()
	for p in "${PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "tests/run.sh: missing packages (install them as root): ${missing[*]}" >&2
		return 0
	fi
	echo "tests/run.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# Keep the postgresql package from starting a cluster of its own: the tests bring theirs.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get install -y --no-install-recommends "${missing[@]}"
}

install_missing

# The integration harness needs PostgreSQL's server binaries (initdb, pg_ctl).
if [ -z "${JOBSYNC_PG_BIN:-}" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && JOBSYNC_PG_BIN=$d
	done
	export JOBSYNC_PG_BIN=${JOBSYNC_PG_BIN:-/usr/lib/postgresql/15/bin}
fi

if [ "$SANITIZE" -eq 1 ]; then
	BUILD=build-san
	CMAKE_OPTS=(-DJOBSYNC_SANITIZE=ON -DJOBSYNC_WERROR=ON -DCMAKE_BUILD_TYPE=Debug)
	# Passed to every jobsync the tests start (the harness copies the environment).
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	# Sanitized binaries are slower: stretch the tests' deadlines (not the goals they print).
	export JOBSYNC_TEST_SLOW=${JOBSYNC_TEST_SLOW:-2}
else
	BUILD=build
	CMAKE_OPTS=(-DJOBSYNC_WERROR=ON)
fi

cmake -S "$ROOT" -B "$ROOT/$BUILD" "${CMAKE_OPTS[@]}"
cmake --build "$ROOT/$BUILD" -j2
ctest --test-dir "$ROOT/$BUILD" --output-on-failure "${CTEST_ARGS[@]}"
