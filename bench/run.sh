#!/usr/bin/env bash
# depot's benchmark, side by side with nginx (static files + WebDAV PUT) on
# loopback. Runs each case against both servers in alternation for several
# rounds and prints a table of medians and the depot/nginx ratio per case;
# writes the same to bench/results.json. See README.md, "Benchmarks".
#
#   bench/run.sh            full run: 6 rounds, under 12 minutes
#   bench/run.sh --quick    3 short rounds, fewer seeded packages, under 2.5 minutes
#   bench/run.sh --stack s3 depot on PostgreSQL + MinIO against MinIO itself
#   bench/run.sh --scale    1,000,000 files in 100,000 packages (--quick: a tenth):
#                           start time, Explore and owner pages, RSS, admin gc
#
# --stack s3 starts a MinIO of its own (scripts/minio.sh) and makes a schema
# in the PostgreSQL at $DEPOT_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/test), dropped at the end; the baseline
# is the same request sent straight to that MinIO with a presigned URL.
# Every run also records the servers' CPU seconds (user+system, from
# /proc/<pid>/stat) per GiB downloaded and uploaded (cpu_download, cpu_upload).
#
# Options: --rounds N, --out FILE, --pprof (serve depot's pprof on a free
# port and save a CPU profile of each depot case into the work directory),
# --keep (keep the work directory), --cases A,B (run only those cases; the
# concurrent-download RSS step is skipped unless rss_peak_mib is named). Needs nginx-light, wrk and curl; installs
# them with apt-get when absent (as root). Only loopback is ever contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0 ROUNDS="" OUT="" KEEP=0 PPROF=0 ONLY="" STACK=embedded SCALE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --keep) KEEP=1 ;;
    --pprof) PPROF=1 ;;
    --cases) ONLY="$2"; shift ;;
    --stack) STACK="$2"; shift ;;
    --scale) SCALE=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$SCALE" = 1 ] && STACK=scale
case "$STACK" in
  scale) : "${OUT:=bench/results-scale.json}" ;;
  embedded) : "${OUT:=bench/results.json}" ;;
  s3) : "${OUT:=bench/results-s3.json}" ;;
  *) echo "bench/run.sh: --stack embedded|s3" >&2; exit 2 ;;
esac

if [ "$QUICK" = 1 ]; then
  # A smaller file and fewer packages, said so in the report.
  : "${ROUNDS:=3}"; BUDGET=125; DUR=2; RATE_DUR=2s; MANY_DUR=4; SEED_N=10000; DEEP=5000; BIG=$((256 << 20)); ROUND_GUESS=32
else
  : "${ROUNDS:=6}"; BUDGET=680; DUR=5; RATE_DUR=5s; MANY_DUR=30; SEED_N=100000; DEEP=10000; BIG=$((1 << 30)); ROUND_GUESS=90
fi
RATE=500          # get_small_p99: requests per second, a moderate load
START=$SECONDS
elapsed() { echo $((SECONDS - START)); }
log() { printf '[%3ds] %s\n' "$(elapsed)" "$*" >&2; }

# --- tools -----------------------------------------------------------------
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  if [ "$(id -u)" != 0 ]; then echo "bench/run.sh: need root to install ${need[*]}" >&2; exit 1; fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# --- work directory and processes we start -----------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/depot-bench.XXXXXX")
DEPOT_PID="" NGINX_PID="" DEPOT2_PID="" DEPOTE_PID="" PG_SCHEMA=""
# stop PID NAME: SIGTERM, then SIGKILL after 5 s; only processes this script started.
stop() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then log "$2 did not stop within 5s of SIGTERM; killing it"; kill -9 "$1" 2>/dev/null || true; fi
  wait "$1" 2>/dev/null || true
}
cleanup() {
  log "stopping the servers"
  stop "$DEPOT_PID" depot; stop "$NGINX_PID" nginx; stop "$DEPOT2_PID" depot; stop "$DEPOTE_PID" depot
  if [ "$STACK" = s3 ]; then
    minio_stop
    [ -n "$PG_SCHEMA" ] && "$LG" pgschema -url "$PGURL" -name "$PG_SCHEMA" -drop || true
  fi
  if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  log "finished"
}
trap cleanup EXIT
trap 'echo "bench/run.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
avail=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
if [ "$avail" -lt $((6 << 20)) ]; then
  echo "bench/run.sh: needs 6 GiB free in $WORK (set TMPDIR to move it)" >&2; exit 1
fi

log "building depot and loadgen"
go build -o "$WORK/depot" ./cmd/depot
go build -o "$WORK/loadgen" ./bench/loadgen
LG="$WORK/loadgen"
RAW="$WORK/raw.tsv"; : >"$RAW"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }
note() { printf 'note\t%s\t%s\n' "$1" "$2" >>"$RAW"; log "$1: $2"; }

# CPU: user+system clock ticks of processes, from /proc/<pid>/stat (the
# fields after the command name, which is in parentheses).
CLK_TCK=$(getconf CLK_TCK)
ticks() {
  local p t=0 f
  for p in "$@"; do
    f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + $(awk '{print $12 + $13}' <<<"$f")))
  done
  echo "$t"
}
# cpu_per_gib T0 T1: CPU seconds per GiB of the BIG bytes moved.
cpu_per_gib() { awk -v a="$1" -v z="$2" -v hz="$CLK_TCK" -v b="$BIG" 'BEGIN {printf "%.3f", (z - a) / hz / (b / 1073741824)}'; }
# server_pids SIDE: the processes that serve a side: depot (and, on the s3
# stack, the MinIO behind it), nginx's master and workers, or MinIO.
server_pids() {
  case "$1" in
    depot) echo "$DEPOT_PID ${MINIO_PID:-}" ;;
    nginx) echo "$NGINX_PID $(ps -o pid= --ppid "$NGINX_PID" | tr '\n' ' ')" ;;
    minio) echo "$MINIO_PID" ;;
  esac
}
record sha256_gib here 1 "$("$LG" sha256cost)"

# --- the scale case: its own run ---------------------------------------------------
if [ "$SCALE" = 1 ]; then
  PKGS=100000; [ "$QUICK" = 1 ] && PKGS=10000
  D="$WORK/depot-data"
  "$WORK/depot" admin user create --data-dir "$D" --username scale --password bench-password --email scale@example.com >/dev/null
  log "seeding $PKGS packages of 10 files, a blob each"
  log "$("$LG" seed -db "$D/depot.db" -owner scale -n "$PKGS" -files 10 -blobs-dir "$D/blobs")"
  [ "$QUICK" = 1 ] && note scale_start_ms "quick run: $PKGS packages, $((PKGS * 10)) files"
  sync
  DEPOT_PORT=$("$LG" freeport) DEPOT="http://127.0.0.1:$DEPOT_PORT"
  for r in $(seq "$ROUNDS"); do
    t0=$(date +%s%N)
    "$WORK/depot" serve --addr "127.0.0.1:$DEPOT_PORT" --data-dir "$D" 2>>"$WORK/depot.log" &
    DEPOT_PID=$!
    record scale_start_ms depot "$r" "$("$LG" waitup -url "$DEPOT/healthz" -since "$t0")"
    record scale_explore_ms depot "$r" "$("$LG" lat -url "$DEPOT/" -n 20)"
    record scale_owner_ms depot "$r" "$("$LG" lat -url "$DEPOT/scale" -n 20)"
    record scale_owner_deep_ms depot "$r" "$("$LG" lat -url "$DEPOT/scale?page=$((PKGS / 40))" -n 10)"
    record scale_rss_mib depot "$r" "$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$DEPOT_PID/status")"
    stop "$DEPOT_PID" depot; DEPOT_PID=""
  done
  # gc with the server stopped (it may run beside it too): a dry run walks
  # every blob and looks each up.
  read -r gc_s gc_rss < <("$LG" runrss -- "$WORK/depot" admin gc --data-dir "$D" 2>"$WORK/gc.log")
  record scale_gc_s depot 1 "$gc_s"
  record scale_gc_rss_mib depot 1 "$gc_rss"
  note scale_gc_s "$(grep -E '^blobs:|^gc took' "$WORK/gc.log" | tr '\n' ' ')"
  note all "stack=scale packages=$PKGS files=$((PKGS * 10)) rounds=$ROUNDS nproc=$(nproc) took $(elapsed)s"
  "$LG" report -stack scale -in "$RAW" -out "$OUT"
  log "done in $(elapsed)s; JSON in $OUT"
  exit 0
fi

log "making test files"
mkdir -p "$WORK/src"
head -c "$BIG" /dev/urandom >"$WORK/src/dl.bin"
# The upload file differs from the download file, so depot stores it as a
# new blob every round (no deduplication), as a CI upload of a new build.
cp "$WORK/src/dl.bin" "$WORK/src/up.bin"
printf 'upload' | dd of="$WORK/src/up.bin" conv=notrunc status=none
head -c 1024 /dev/urandom >"$WORK/src/small.bin"
if [ "$QUICK" = 1 ]; then
  note download_1g "quick run: 256 MiB file"
  note upload_1g "quick run: 256 MiB file"
  note client_push_1g "quick run: 256 MiB file"
  note client_pull_1g "quick run: 256 MiB file"
  note resume_1g "quick run: 256 MiB file"
fi

# --- depot ------------------------------------------------------------------------
D="$WORK/depot-data"
STACK_ARGS=() DB_ARGS=()
if [ "$STACK" = s3 ]; then
  # MinIO as the tests start it, a bucket, and a PostgreSQL schema.
  # shellcheck source=../scripts/minio.sh
  source scripts/minio.sh
  minio_start
  export MINIO_ROOT_USER=$DEPOT_TEST_S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$DEPOT_TEST_S3_SECRET_KEY
  export AWS_ACCESS_KEY_ID=$DEPOT_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$DEPOT_TEST_S3_SECRET_KEY
  S3=(-endpoint "$DEPOT_TEST_S3_ENDPOINT" -bucket bench)
  "$LG" bucket "${S3[@]}"
  PGURL=${DEPOT_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
  PG_SCHEMA="depot_bench_$$"
  "$LG" pgschema -url "$PGURL" -name "$PG_SCHEMA"
  sep='?'; [[ "$PGURL" == *"?"* ]] && sep='&'
  DB_ARGS=(--database-url "$PGURL${sep}search_path=$PG_SCHEMA")
  STACK_ARGS=("${DB_ARGS[@]}" --storage-url "s3://bench/depot?endpoint=$DEPOT_TEST_S3_ENDPOINT&region=us-east-1&path_style=true")
fi
"$WORK/depot" admin user create --data-dir "$D" "${DB_ARGS[@]}" --username bench --password bench-password --email bench@example.com >/dev/null
"$WORK/depot" admin user create --data-dir "$D" "${DB_ARGS[@]}" --username deep --password bench-password --email deep@example.com >/dev/null
TOKEN=$("$WORK/depot" admin token create --data-dir "$D" "${DB_ARGS[@]}" --username bench --name bench --scopes write:package)
DEEP_TOKEN=$("$WORK/depot" admin token create --data-dir "$D" "${DB_ARGS[@]}" --username deep --name bench --scopes write:package)
AUTH="Authorization: token $TOKEN"
DEPOT_PORT=$("$LG" freeport)
DEPOT="http://127.0.0.1:$DEPOT_PORT"
PPROF_ARGS=()
if [ "$PPROF" = 1 ]; then PPROF_PORT=$("$LG" freeport); PPROF_ARGS=(--pprof-addr "127.0.0.1:$PPROF_PORT"); fi
"$WORK/depot" serve --addr "127.0.0.1:$DEPOT_PORT" --data-dir "$D" "${STACK_ARGS[@]}" "${PPROF_ARGS[@]}" 2>"$WORK/depot.log" &
DEPOT_PID=$!
if [ "$STACK" = s3 ]; then
  # A second depot on the same database and bucket, answering downloads
  # with a redirect to MinIO; and an embedded depot (SQLite, local disk)
  # for the metadata cost of a small GET.
  DEPOT2_PORT=$("$LG" freeport) DEPOT2="http://127.0.0.1:$DEPOT2_PORT"
  "$WORK/depot" serve --addr "127.0.0.1:$DEPOT2_PORT" --data-dir "$WORK/depot2-data" "${STACK_ARGS[@]}" --storage-redirect 2>"$WORK/depot2.log" &
  DEPOT2_PID=$!
  DE="$WORK/depot-embedded"
  "$WORK/depot" admin user create --data-dir "$DE" --username bench --password bench-password --email bench@example.com >/dev/null
  ETOKEN=$("$WORK/depot" admin token create --data-dir "$DE" --username bench --name bench --scopes write:package)
  DEPOTE_PORT=$("$LG" freeport) DEPOTE="http://127.0.0.1:$DEPOTE_PORT"
  "$WORK/depot" serve --addr "127.0.0.1:$DEPOTE_PORT" --data-dir "$DE" 2>"$WORK/depot-embedded.log" &
  DEPOTE_PID=$!
fi

# --- nginx: static files and WebDAV PUT, the plain web server a user would pick ----
N="$WORK/nginx" NGX=""
if [ "$STACK" = embedded ]; then
mkdir -p "$N/root" "$N/tmp"
NGINX_PORT=$("$LG" freeport)
NGX="http://127.0.0.1:$NGINX_PORT"
{
  [ "$(id -u)" = 0 ] && echo "user root;"
  cat <<EOF
worker_processes auto;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 4096; }
http {
  access_log $N/access.log;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_max_body_size 0;
  client_body_temp_path $N/tmp;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $N/root;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw;
    }
  }
}
EOF
} >"$N/nginx.conf"
"$NGINX" -e "$N/error.log" -p "$N" -c "$N/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
up() { curl -sS -o /dev/null "$NGX/" 2>/dev/null; }
else
up() { curl -fsS -o /dev/null "$DEPOT2/healthz" 2>/dev/null && curl -fsS -o /dev/null "$DEPOTE/healthz" 2>/dev/null; }
fi

for i in $(seq 100); do
  curl -fsS -o /dev/null "$DEPOT/healthz" 2>/dev/null && up && break
  [ "$i" = 100 ] && { echo "servers did not start; see $WORK/depot*.log, $N/error.log" >&2; exit 1; }
  sleep 0.1
done

# put URL FILE [curl args...]: upload, fail unless 2xx.
put() { local u=$1 f=$2; shift 2; curl -fsS -o /dev/null "$@" --upload-file "$f" "$u"; }
log "storing the test files in both servers"
put "$DEPOT/api/packages/bench/generic/dl/1/dl.bin" "$WORK/src/dl.bin" -H "$AUTH"
put "$DEPOT/api/packages/bench/generic/small/1/small.bin" "$WORK/src/small.bin" -H "$AUTH"
if [ "$STACK" = embedded ]; then
  put "$NGX/dl/dl.bin" "$WORK/src/dl.bin"
  put "$NGX/small/small.bin" "$WORK/src/small.bin"
else
  # The baseline's objects, PUT straight to MinIO; presigned URLs valid for
  # the whole run.
  presign() { "$LG" presign "${S3[@]}" -expiry 2h -method "$1" -key "$2"; }
  put "$(presign PUT direct/dl.bin)" "$WORK/src/dl.bin"
  put "$(presign PUT direct/small.bin)" "$WORK/src/small.bin"
  NGX_DL=$(presign GET direct/dl.bin) NGX_SMALL=$(presign GET direct/small.bin)
  put "$DEPOTE/api/packages/bench/generic/small/1/small.bin" "$WORK/src/small.bin" -H "Authorization: token $ETOKEN"
fi
"$LG" idle -pid "$DEPOT_PID" -max 20s
sync

DEPOT_DL="$DEPOT/api/packages/bench/generic/dl/1/dl.bin"
DEPOT_SMALL="$DEPOT/api/packages/bench/generic/small/1/small.bin"
if [ "$STACK" = embedded ]; then NGX_DL="$NGX/dl/dl.bin" NGX_SMALL="$NGX/small/small.bin"; fi
# Warm the page cache and connections for both.
curl -fsS -o /dev/null -H "$AUTH" "$DEPOT_DL"; curl -fsS -o /dev/null "$NGX_DL"

# --- list_deep setup: only when the listing API answers ----------------------------
LIST=0
if [ "$STACK" = s3 ] || { [ -n "$ONLY" ] && [[ ",$ONLY," != *",list_deep,"* ]]; }; then
  :  # not asked for: no seeding
elif curl -fsS -o /dev/null -H "Authorization: token $DEEP_TOKEN" "$DEPOT/api/v1/packages/deep?type=generic&page=1&limit=50" 2>/dev/null; then
  LIST=1
  put "$DEPOT/api/packages/deep/generic/blob-for-seed/1/seed.bin" "$WORK/src/small.bin" -H "Authorization: token $DEEP_TOKEN"
  SHA=$(sha256sum "$WORK/src/small.bin" | cut -d" " -f1)
  if out=$("$LG" seed -db "$D/depot.db" -owner deep -n "$SEED_N" -blob "$SHA" 2>&1); then
    log "$out"
  else
    LIST=0
    note list_deep "not measured: seeding failed: $out"
  fi
  [ "$QUICK" = 1 ] && [ "$LIST" = 1 ] && note list_deep "quick run: $SEED_N packages seeded, deep page at $DEEP"
else
  note list_deep "not measured: listing API missing"
fi

# --- the cases -------------------------------------------------------------------------
# Each case function takes a side (depot|nginx) and a round number and
# records one sample.
case_download_1g() {
  local url=$NGX_DL h=() name=${3:-download_1g}
  [ "$1" = depot ] && url=$DEPOT_DL h=(-H "$AUTH")
  [ "$name" = download_1g_redirect ] && [ "$1" = depot ] && url=$DEPOT2/api/packages/bench/generic/dl/1/dl.bin h=(-L -H "$AUTH")
  local pids; read -ra pids <<<"$(server_pids "$1")"
  local t0; t0=$(ticks "${pids[@]}")
  local out; out=$(curl -sS -o /dev/null -w '%{http_code} %{speed_download}' "${h[@]}" "$url")
  [ "${out%% *}" = 200 ] || { echo "$name $1: HTTP ${out%% *}" >&2; return 1; }
  record "$name" "$1" "$2" "$(awk -v s="${out#* }" 'BEGIN {printf "%.1f", s / 1e6}')"
  [ "$name" = download_1g ] && record cpu_download "$1" "$2" "$(cpu_per_gib "$t0" "$(ticks "${pids[@]}")")"
  return 0
}
# download_1g_redirect: the same download through a depot started with
# --storage-redirect (curl follows the 307 to MinIO); s3 stack only.
case_download_1g_redirect() { case_download_1g "$1" "$2" download_1g_redirect; }
case_upload_1g() {
  local url="$NGX/up/r$2/up.bin" h=() want=201
  [ "$1" = minio ] && url=$(presign PUT "up/r$2/up.bin") want=200
  [ "$1" = depot ] && url="$DEPOT/api/packages/bench/generic/up/r$2/up.bin" h=(-H "$AUTH") want=201
  local pids; read -ra pids <<<"$(server_pids "$1")"
  local t0; t0=$(ticks "${pids[@]}")
  local out; out=$(curl -sS -o /dev/null -w '%{http_code} %{speed_upload}' "${h[@]}" --upload-file "$WORK/src/up.bin" "$url")
  [ "${out%% *}" = "$want" ] || { echo "upload_1g $1: HTTP ${out%% *}" >&2; return 1; }
  record upload_1g "$1" "$2" "$(awk -v s="${out#* }" 'BEGIN {printf "%.1f", s / 1e6}')"
  record cpu_upload_201 "$1" "$2" "$(cpu_per_gib "$t0" "$(ticks "${pids[@]}")")"
  # Untimed: let depot finish what it does after answering (its CPU counts
  # in cpu_upload), remove the file, and write back dirty pages, so the
  # next measure pays for none of it.
  if [ "$1" = depot ]; then
    "$LG" idle -pid "$DEPOT_PID" -max 20s
    record cpu_upload "$1" "$2" "$(cpu_per_gib "$t0" "$(ticks "${pids[@]}")")"
    curl -fsS -o /dev/null -X DELETE -H "$AUTH" "$DEPOT/api/packages/bench/generic/up/r$2"
  elif [ "$1" = minio ]; then
    record cpu_upload "$1" "$2" "$(cpu_per_gib "$t0" "$(ticks "${pids[@]}")")"
    presign DELETE "up/r$2/up.bin"
  else
    record cpu_upload "$1" "$2" "$(cpu_per_gib "$t0" "$(ticks "${pids[@]}")")"
    rm -rf "$N/root/up"
  fi
  sync
}
case_get_small_rps() {
  local url=$NGX_SMALL h=() name=${3:-get_small_rps}
  case "$1" in
    depot|postgres) url=$DEPOT_SMALL h=(-H "$AUTH") ;;
    embedded) url=$DEPOTE/api/packages/bench/generic/small/1/small.bin h=(-H "Authorization: token $ETOKEN") ;;
  esac
  local rps; rps=$(wrk -t2 -c64 -d"${DUR}s" "${h[@]}" "$url" | awk '/Non-2xx/ {bad=1} /Requests\/sec/ {print $2} END {if (bad) exit 1}')
  record "$name" "$1" "$2" "$rps"
}
# get_small_meta: the small GET on depot with PostgreSQL (the s3 stack's
# depot; a 1 KiB blob is served from depot's memory, so what differs is
# the metadata) against depot embedded (SQLite, local disk); s3 stack only.
case_get_small_meta() { case_get_small_rps "$1" "$2" get_small_meta; }
case_put_small_rps() {
  local tmpl="$NGX/put/r$2/w%d/f%d" h=()
  [ "$1" = depot ] && tmpl="$DEPOT/api/packages/bench/generic/put-r$2-w%d/1/f%d" h=(-header "$AUTH")
  [ "$1" = minio ] && tmpl="$DEPOT_TEST_S3_ENDPOINT/bench/put/r$2/w%d/f%d" h=("${S3[@]}")
  record put_small_rps "$1" "$2" "$("$LG" put -url-template "$tmpl" -concurrency 16 -duration "${DUR}s" -size 1024 "${h[@]}")"
  sync
}
case_get_small_p99() {
  local url=$NGX_SMALL h=()
  [ "$1" = depot ] && url=$DEPOT_SMALL h=(-header "$AUTH")
  record get_small_p99 "$1" "$2" "$("$LG" rate -url "$url" -rate "$RATE" -duration "$RATE_DUR" "${h[@]}" 2>>"$WORK/rate.log")"
}
case_list_deep() {
  [ "$1" = depot ] && [ "$LIST" = 1 ] || return 0
  local out
  if ! out=$("$LG" list -base "$DEPOT" -owner deep -deep "$DEEP" -limit 50 -n 20 -header "Authorization: token $DEEP_TOKEN" 2>&1); then
    LIST=0
    note list_deep "not measured: $out"
    return 0
  fi
  record list_deep first "$2" "${out% *}"
  record list_deep depot "$2" "${out#* }"
}
# The client cases: `depot push` and `depot pull` against curl on the same
# depot server (sides "depot" and "curl"), wall-clock MB/s of the whole
# command, process start included, for both.
# mbs CMD...: runs CMD and prints BIG bytes over its wall-clock time in MB/s.
mbs() {
  local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
  awk -v b="$BIG" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}'
}
case_client_push_1g() {
  local v
  if [ "$1" = depot ]; then
    v=cpush-r$2
    v=$(DEPOT_URL=$DEPOT DEPOT_TOKEN=$TOKEN mbs "$WORK/depot" push "bench/cup@$v" "$WORK/src/up.bin" --quiet)
    record client_push_1g depot "$2" "$v"
    "$LG" idle -pid "$DEPOT_PID" -max 20s
    curl -fsS -o /dev/null -X DELETE -H "$AUTH" "$DEPOT/api/packages/bench/generic/cup/cpush-r$2"
  else
    v=$(mbs curl -fsS -o /dev/null -H "$AUTH" --upload-file "$WORK/src/up.bin" "$DEPOT/api/packages/bench/generic/cup/curl-r$2/up.bin")
    record client_push_1g curl "$2" "$v"
    "$LG" idle -pid "$DEPOT_PID" -max 20s
    curl -fsS -o /dev/null -X DELETE -H "$AUTH" "$DEPOT/api/packages/bench/generic/cup/curl-r$2"
  fi
  sync
}
case_client_pull_1g() {
  local dir="$WORK/pull" v
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$1" = depot ]; then
    v=$(DEPOT_URL=$DEPOT DEPOT_TOKEN=$TOKEN mbs "$WORK/depot" pull bench/dl@1 dl.bin -o "$dir" --quiet)
  else
    v=$(mbs curl -fsS -H "$AUTH" -o "$dir/dl.bin" "$DEPOT_DL")
  fi
  cmp -s "$dir/dl.bin" "$WORK/src/dl.bin" || { echo "client_pull_1g $1: wrong bytes" >&2; return 1; }
  record client_pull_1g "$1" "$2" "$v"
  rm -rf "$dir"; sync
}
# resume_1g: a resumable upload (IETF draft, interop version 8) cut at
# half and resumed, against a plain curl PUT of the same file (sides
# "depot" and "curl", both on depot). The "depot" side is three curl
# requests: the creation carrying the first half (what the server holds
# after a cut there), the HEAD a resuming client sends, and the PATCH of the
# second half that completes it; wall-clock MB/s of the whole file for both.
case_resume_1g() {
  local half=$((BIG / 2)) v url="$DEPOT/api/packages/bench/generic/rup/r$2-$1/up.bin"
  [ -f "$WORK/src/up.half2" ] || { head -c "$half" "$WORK/src/up.bin" >"$WORK/src/up.half1"; tail -c +$((half + 1)) "$WORK/src/up.bin" >"$WORK/src/up.half2"; }
  if [ "$1" = depot ]; then
    local t0 t1 loc off
    t0=$(date +%s.%N)
    loc=$(curl -fsS -o /dev/null -D - -H "$AUTH" -H 'Upload-Draft-Interop-Version: 8' -H 'Upload-Complete: ?0' -H "Upload-Length: $BIG" \
      -T "$WORK/src/up.half1" "$url" | tr -d '\r' | awk 'tolower($1) == "location:" {l = $2} END {print l}')
    off=$(curl -fsS -I -H "$AUTH" "$DEPOT$loc" | tr -d '\r' | awk 'tolower($1) == "upload-offset:" {print $2}')
    [ "$off" = "$half" ] || { echo "resume_1g: offset $off after the first half, want $half" >&2; return 1; }
    curl -fsS -o /dev/null -X PATCH -H "$AUTH" -H 'Content-Type: application/partial-upload' -H "Upload-Offset: $off" \
      -H 'Upload-Complete: ?1' -H 'Upload-Draft-Interop-Version: 8' -T "$WORK/src/up.half2" "$DEPOT$loc"
    t1=$(date +%s.%N)
    v=$(awk -v b="$BIG" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')
  else
    v=$(mbs curl -fsS -o /dev/null -H "$AUTH" --upload-file "$WORK/src/up.bin" "$url")
  fi
  record resume_1g "$1" "$2" "$v"
  "$LG" idle -pid "$DEPOT_PID" -max 20s
  curl -fsS -o /dev/null -X DELETE -H "$AUTH" "$DEPOT/api/packages/bench/generic/rup/r$2-$1"
  sync
}
# profiled CASE SIDE ROUND: runs a case, with a CPU profile of depot when
# --pprof was given.
profiled() {
  if [ "$PPROF" = 1 ] && [ "$2" = depot ] && [ "$3" = 1 ]; then
    curl -fsS -o "$WORK/cpu-$1.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$(awk -v d="$DUR" 'BEGIN {printf "%d", d}')" &
    local prof=$!
    "case_$1" "$2" "$3"
    wait "$prof" || true
  else
    "case_$1" "$2" "$3"
  fi
}

CASES=(download_1g upload_1g get_small_rps put_small_rps get_small_p99 client_push_1g client_pull_1g resume_1g)
[ "$LIST" = 1 ] && CASES+=(list_deep)
[ "$STACK" = s3 ] && CASES=(download_1g download_1g_redirect upload_1g get_small_rps put_small_rps get_small_meta)
if [ -n "$ONLY" ]; then
  picked=()
  for c in "${CASES[@]}"; do [[ ",$ONLY," == *",$c,"* ]] && picked+=("$c"); done
  CASES=("${picked[@]}")
  note all "only cases: $ONLY"
fi
round_time=$ROUND_GUESS
for r in $(seq "$ROUNDS"); do
  # Stop early rather than overrun the time bound (keeping room for the
  # concurrent-download step and the report).
  # (Round 1 always runs, or there would be nothing to report.)
  if [ "$r" -gt 1 ] && [ $(( $(elapsed) + round_time + 2 * 3 + 8 )) -gt "$BUDGET" ]; then
    note all "rounds cut to $((r - 1)) by the time bound"
    break
  fi
  t0=$SECONDS
  BASE=nginx; [ "$STACK" = s3 ] && BASE=minio
  # Sides alternate from round to round, and the default number of rounds
  # is even, so each goes first as often: on this VM (ext4 mounted with
  # discard) the first 1 GiB write after another case deleted one can take
  # twice as long, whoever makes it.
  sides=(depot "$BASE"); [ $((r % 2)) = 0 ] && sides=("$BASE" depot)
  for c in "${CASES[@]}"; do
    # The client cases compare the depot client with curl, both on depot.
    case_sides=("${sides[@]}"); { [ "${c#client_}" != "$c" ] || [ "$c" = resume_1g ]; } && case_sides=("${sides[@]/nginx/curl}")
    if [ "$c" = get_small_meta ]; then case_sides=("${sides[@]/depot/postgres}"); case_sides=("${case_sides[@]/minio/embedded}"); fi
    for s in "${case_sides[@]}"; do
      profiled "$c" "$s" "$r"
    done
  done
  round_time=$((SECONDS - t0))
  log "round $r done in ${round_time}s"
done

# --- memory: 200 concurrent downloads of the 1 GiB file, then peak RSS ------------
if [ -z "$ONLY" ] || [[ ",$ONLY," == *",rss_peak_mib,"* ]]; then
many() {
  local url=$NGX_DL h=()
  [ "$1" = depot ] && url=$DEPOT_DL h=(-header "$AUTH")
  "$LG" download -url "$url" -concurrency 200 -duration "${MANY_DUR}s" "${h[@]}"
}
# Whatever time is left, up to MANY_DUR seconds per server, at least 2.
left=$(( (BUDGET - $(elapsed) - 6) / 2 ))
[ "$left" -lt "$MANY_DUR" ] && MANY_DUR=$(( left > 2 ? left : 2 ))
log "200 concurrent downloads of the $((BIG >> 20)) MiB file, ${MANY_DUR}s each server"
depot_many=$(many depot); nginx_many=$(many nginx)
note rss_peak_mib "200 concurrent downloads of the $((BIG >> 20)) MiB file for at most ${MANY_DUR}s: depot $depot_many MB/s, nginx $nginx_many MB/s in all"
hwm_kib() { awk '/^VmHWM/ {s += $2} END {print s + 0}' "${@/#//proc/}" 2>/dev/null; }
record rss_peak_mib depot 1 "$(awk -v k="$(hwm_kib "$DEPOT_PID/status")" 'BEGIN {printf "%.1f", k / 1024}')"
# nginx: master and workers together.
if [ "$STACK" = embedded ]; then
ngx_status=("$NGINX_PID/status")
for p in $(ps -o pid= --ppid "$NGINX_PID"); do ngx_status+=("$p/status"); done
fi
if [ "$STACK" = embedded ]; then
record rss_peak_mib nginx 1 "$(awk -v k="$(hwm_kib "${ngx_status[@]}")" 'BEGIN {printf "%.1f", k / 1024}')"
fi

fi
note all "stack=$STACK rounds=$ROUNDS quick=$QUICK nproc=$(nproc) took $(elapsed)s"
"$LG" report -stack "$STACK" -in "$RAW" -out "$OUT"
log "done in $(elapsed)s; JSON in $OUT"
[ "$PPROF" = 1 ] && log "CPU profiles: $WORK/cpu-*.pprof (kept with --keep)"
exit 0
