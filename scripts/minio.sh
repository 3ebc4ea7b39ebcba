#!/usr/bin/env bash
# Starts a throwaway MinIO server on loopback for the S3 blob store tests
# (internal/s3blob): a free port, a temporary data directory, a random root
# password, nothing left behind when it stops.
#
# Sourced, it defines functions and starts nothing:
#
#	source scripts/minio.sh
#	minio_start   # starts MinIO, exports DEPOT_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY
#	minio_stop    # stops it and removes its data (scripts/test.sh runs it from an EXIT trap)
#
# Run directly, it starts MinIO, prints the environment and then either runs
# the given command with that environment and stops MinIO when the command
# ends, or, with no command, waits until interrupted:
#
#	scripts/minio.sh go test -race -count=1 ./internal/s3blob/
#	scripts/minio.sh    # prints export lines to paste into another shell
#
# The server binary is $MINIO_BIN, else $(go env GOPATH)/bin/minio, else minio
# on PATH, else it is built with `go install github.com/minio/minio@latest`
# (about six minutes the first time).

# minio_binary prints the path of a MinIO server binary, installing one if
# needed.
minio_binary() {
	local bin
	if [ -n "${MINIO_BIN:-}" ]; then
		if [ ! -x "$MINIO_BIN" ]; then
			echo "minio.sh: MINIO_BIN=$MINIO_BIN is not an executable file" >&2
			return 1
		fi
		echo "$MINIO_BIN"
		return 0
	fi
	bin="$(go env GOPATH)/bin/minio"
	if [ -x "$bin" ]; then
		echo "$bin"
		return 0
	fi
	if command -v minio >/dev/null 2>&1; then
		command -v minio
		return 0
	fi
	echo "minio.sh: installing github.com/minio/minio@latest into $(go env GOPATH)/bin (takes several minutes the first time)" >&2
	# GOFLAGS from the caller (e.g. -mod=vendor) must not leak into a build of
	# another module.
	if ! GOFLAGS= go install github.com/minio/minio@latest >&2; then
		echo "minio.sh: go install github.com/minio/minio@latest failed" >&2
		return 1
	fi
	echo "$bin"
}

# minio_free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
minio_free_port() {
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		# A refused connection means the port is free (a race with other
		# processes remains; minio_start retries on a failed bind).
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo "minio.sh: found no free port" >&2
	return 1
}

# minio_healthy reports whether the server at $1 (host:port) answers its
# liveness check.
minio_healthy() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 2 "http://$1/minio/health/live" 2>/dev/null
		return
	fi
	local reply
	reply=$(
		exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
		printf 'GET /minio/health/live HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
		timeout 2 head -n 1 <&3
	) 2>/dev/null
	[[ "$reply" == "HTTP/1."?" 200"* ]]
}

# minio_start starts MinIO and exports DEPOT_TEST_S3_ENDPOINT,
# DEPOT_TEST_S3_ACCESS_KEY and DEPOT_TEST_S3_SECRET_KEY. It also sets
# MINIO_PID and MINIO_TMPDIR for minio_stop. It waits at most
# MINIO_START_TIMEOUT seconds (default 60) for each start attempt.
minio_start() {
	if [ -n "${MINIO_PID:-}" ] && kill -0 "$MINIO_PID" 2>/dev/null; then
		echo "minio.sh: already running (pid $MINIO_PID)" >&2
		return 0
	fi
	local bin port attempt deadline user password
	bin=$(minio_binary) || return 1
	MINIO_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/depot-minio.XXXXXX") || return 1
	mkdir -p "$MINIO_TMPDIR/data"
	user="depot-test"
	password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	for attempt in 1 2 3 4 5; do
		port=$(minio_free_port) || break
		MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$password" MINIO_BROWSER=off \
			MINIO_UPDATE=off MINIO_CI_CD=1 \
			"$bin" server --quiet --address "127.0.0.1:$port" "$MINIO_TMPDIR/data" \
			>"$MINIO_TMPDIR/minio.log" 2>&1 </dev/null &
		MINIO_PID=$!
		deadline=$((SECONDS + ${MINIO_START_TIMEOUT:-60}))
		while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$MINIO_PID" 2>/dev/null; do
			if minio_healthy "127.0.0.1:$port"; then
				export DEPOT_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
				export DEPOT_TEST_S3_ACCESS_KEY="$user"
				export DEPOT_TEST_S3_SECRET_KEY="$password"
				echo "minio.sh: MinIO (pid $MINIO_PID) listening on $DEPOT_TEST_S3_ENDPOINT, data in $MINIO_TMPDIR" >&2
				return 0
			fi
			sleep 0.2
		done
		echo "minio.sh: attempt $attempt: MinIO on port $port did not become healthy:" >&2
		tail -n 5 "$MINIO_TMPDIR/minio.log" >&2
		minio_kill
	done
	rm -rf "$MINIO_TMPDIR"
	unset MINIO_PID MINIO_TMPDIR
	echo "minio.sh: could not start MinIO" >&2
	return 1
}

# minio_kill stops the process MINIO_PID: SIGTERM, then SIGKILL after 10
# seconds.
minio_kill() {
	[ -n "${MINIO_PID:-}" ] || return 0
	kill "$MINIO_PID" 2>/dev/null || true
	local deadline=$((SECONDS + 10))
	while kill -0 "$MINIO_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
		sleep 0.1
	done
	if kill -0 "$MINIO_PID" 2>/dev/null; then
		kill -KILL "$MINIO_PID" 2>/dev/null || true
	fi
	wait "$MINIO_PID" 2>/dev/null || true
	unset MINIO_PID
}

# minio_stop stops the server minio_start started and removes its data. It is
# safe to call when nothing was started.
minio_stop() {
	minio_kill
	if [ -n "${MINIO_TMPDIR:-}" ]; then
		rm -rf "$MINIO_TMPDIR"
		unset MINIO_TMPDIR
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	trap minio_stop EXIT
	trap 'exit 130' INT TERM
	minio_start
	echo "export DEPOT_TEST_S3_ENDPOINT=$DEPOT_TEST_S3_ENDPOINT"
	echo "export DEPOT_TEST_S3_ACCESS_KEY=$DEPOT_TEST_S3_ACCESS_KEY"
	echo "export DEPOT_TEST_S3_SECRET_KEY=$DEPOT_TEST_S3_SECRET_KEY"
	if [ "$#" -gt 0 ]; then
		"$@"
	else
		echo "minio.sh: running until interrupted (Ctrl-C)" >&2
		wait "$MINIO_PID"
	fi
fi
