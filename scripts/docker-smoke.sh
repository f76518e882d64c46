#!/usr/bin/env bash
# Smoke test of the Docker image on a machine WITHOUT a Docker engine or registry access.
#
#   sudo bash scripts/docker-smoke.sh          (root: apt-get, mount, chroot, netns)
#
# 1. installs podman + debootstrap (apt-get) if missing;
# 2. builds a stand-in for the Dockerfile's base image `python:3.11-slim` once: a Debian bookworm
#    minbase rootfs (Debian's python3 is 3.11) with pip and this machine's apt sources, CA
#    certificates and pip index settings, imported under the name the Dockerfile's FROM uses
#    (cached in $SNDIAG_SMOKE_CACHE; skipped when `podman image exists python:3.11-slim`);
# 3. `podman build`s the real Dockerfile (tag sndiag:smoke) and prints the image size;
# 4. runs the image the way `docker run -v VOLUME:/data` would, without a container runtime
#    (`podman run` is refused in this sandbox): a `podman create`d container's writable rootfs is
#    mounted, /proc and /dev go in, a fresh store folder (owned like the image's /data, as a new
#    named volume is) is bind-mounted at /data, and the image's ENTRYPOINT+CMD is started there
#    with chroot as the image's USER, with exactly the image's ENV and WORKDIR, in a private
#    network namespace whose only interface is loopback (so the image's own 0.0.0.0:8501 and
#    HEALTHCHECK are used unchanged; the port is reachable from this machine's tools only through
#    that namespace). Waits for /_stcore/health, then runs the image's HEALTHCHECK command itself;
# 5. checks the demo renders: tests/browser (SNDIAG_BASE_URL points them at the image), plus a
#    Playwright check of its own with a screenshot (artifacts/docker-smoke-demo.png);
# 6. persistence: puts a dataset into /data/store with the store API inside the image (like
#    `docker exec`), replaces the container with a new one on the same volume, and checks the
#    dataset is still listed and loads (store API) and opens by its link in the browser;
# 7. the gate: restarts with SNDIAG_PASSWORD set and, from outside the container (raw HTTP from
#    the host, tests/support/probe.py): 100 MB uploads before sign-in are refused (401) and the
#    server's RSS does not grow, the app's WebSocket is refused (401), the sign-in form signs in
#    (303), after which the WebSocket opens (101) and an upload is taken (204); then in Chromium
#    only the sign-in page renders (at / and each page's URL), a wrong password is refused and
#    the right one opens the dashboard;
# 8. prints a summary (run time, image size); exits non-zero if any check failed.
#
# Environment: SNDIAG_SMOKE_CACHE (default /var/cache/sndiag-smoke), SNDIAG_SMOKE_IMAGE
# (sndiag:smoke), SNDIAG_SMOKE_MIRROR (Debian mirror for the stand-in; default: this machine's),
# SNDIAG_SMOKE_BROWSER_TESTS=0 (skip tests/browser), SNDIAG_SMOKE_PYTEST_ARGS (extra pytest
# args, e.g. "-k demo"), SNDIAG_SMOKE_REBUILD_BASE=1 (rebuild the stand-in), SNDIAG_SMOKE_KEEP=1
# (keep the work folder). Logs and screenshots go to artifacts/ (git-ignored).
set -euo pipefail

T0=$SECONDS
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SNDIAG_SMOKE_CACHE:-/var/cache/sndiag-smoke}
IMAGE=${SNDIAG_SMOKE_IMAGE:-sndiag:smoke}
BASE_WANTED=python:3.11-slim
BASE_REF=docker.io/library/python:3.11-slim
SUITE=bookworm                         # Debian release whose python3 is 3.11
ART=$REPO/artifacts
LOGS=$ART/docker-smoke
PORT=8501                              # the image's own port (private network namespace)
HEALTH_TIMEOUT=120                     # s until /_stcore/health answers
STOP_TIMEOUT=15                        # s between SIGTERM and SIGKILL (docker stop: 10)
CHROMIUM=${SNDIAG_CHROMIUM:-/usr/bin/chromium}
PY=$REPO/.venv/bin/python

log() { printf '[docker-smoke %4ds] %s\n' "$((SECONDS - T0))" "$*"; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, mount, chroot, network namespaces)"
[ -f "$REPO/Dockerfile" ] || die "no Dockerfile in $REPO"
mkdir -p "$CACHE" "$LOGS"

# One run at a time on this machine (shared podman storage, cache and netns names).
exec 9>"$CACHE/lock"
flock -w 3600 9 || die "another docker-smoke run holds $CACHE/lock"

# -- results ------------------------------------------------------------------------------------
declare -a RESULTS=()
FAILED=0
result() {  # result STEP STATUS DETAIL   (STATUS: PASS FAIL WARN PENDING SKIP; only FAIL fails)
  RESULTS+=("$(printf '%-22s %-7s %s' "$1" "$2" "$3")")
  [ "$2" != FAIL ] || FAILED=1
  log "$1: $2 — $3"
}

# -- cleanup ------------------------------------------------------------------------------------
WORK=$(mktemp -d /var/tmp/sndiag-smoke.XXXXXX)
NETNS=""
declare -a MOUNTS=()        # runtime mounts, unmounted in reverse order
declare -a CONTAINERS=()    # podman containers created here
SERVER_PID=""

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid=$SERVER_PID t
  SERVER_PID=""
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((t = 0; t < STOP_TIMEOUT * 5; t++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "server $pid ignored SIGTERM for ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

unmount_all() {
  local i m
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    m=${MOUNTS[i]}
    if mountpoint -q "$m"; then
      umount -R "$m" 2>/dev/null || umount -Rl "$m" 2>/dev/null || log "warning: cannot unmount $m"
    fi
  done
  MOUNTS=()
}

remove_containers() {
  local c
  for c in "${CONTAINERS[@]}"; do
    podman umount "$c" >/dev/null 2>&1 || true
    podman rm -f "$c" >/dev/null 2>&1 || true
  done
  CONTAINERS=()
}

# shellcheck disable=SC2317,SC2329  # (invoked by the EXIT trap)
cleanup() {
  local rc=$?
  set +e
  stop_server
  unmount_all
  remove_containers
  [ -z "$NETNS" ] || ip netns delete "$NETNS" 2>/dev/null
  if [ -d "$WORK/rootfs" ]; then   # an interrupted stand-in build
    findmnt -rno TARGET | grep "^$WORK/rootfs" | sort -r | xargs -r -n1 umount -l 2>/dev/null
  fi
  if [ "${SNDIAG_SMOKE_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- 1. tools -----------------------------------------------------------------------------------
need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v fuse-overlayfs >/dev/null || need+=(fuse-overlayfs)
command -v curl >/dev/null || need+=(curl)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} (apt-get)"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >"$LOGS/apt-tools.log" 2>&1 || die "apt-get install failed: $LOGS/apt-tools.log"
fi
if [ ! -x "$CHROMIUM" ]; then
  log "installing Debian's chromium for the browser checks"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium \
    >"$LOGS/apt-chromium.log" 2>&1 || die "apt-get install chromium failed"
fi
if ! "$PY" -c 'import playwright.sync_api' 2>/dev/null; then
  log "setting up the repo venv with the dev requirements (playwright)"
  (cd "$REPO" && bash scripts/setup.sh requirements-dev.txt) || die "scripts/setup.sh failed"
fi
result tools PASS "$(podman --version), $(debootstrap --version | head -1)"

# Parse `podman image inspect` into shell arrays (values quoted by Python's shlex).
image_config() {  # image_config IMAGE -> IMG_ENV IMG_ENTRYPOINT IMG_CMD IMG_WORKDIR IMG_USER IMG_HEALTH
  local out
  out=$(podman image inspect "$1" | python3 -c '
import json, shlex, sys
d = json.load(sys.stdin)[0]
c = d.get("Config") or {}
h = d.get("Healthcheck") or c.get("Healthcheck") or {}
def arr(name, v):
    print(f"{name}=(" + " ".join(shlex.quote(str(x)) for x in (v or [])) + ")")
arr("IMG_ENV", c.get("Env"))
arr("IMG_ENTRYPOINT", c.get("Entrypoint"))
arr("IMG_CMD", c.get("Cmd"))
arr("IMG_HEALTH", h.get("Test"))
print("IMG_WORKDIR=" + shlex.quote(c.get("WorkingDir") or "/"))
print("IMG_USER=" + shlex.quote(c.get("User") or ""))
print("IMG_SIZE=" + shlex.quote(str(d.get("Size") or 0)))
') || return 1
  eval "$out"
}

human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1"; }

# -- 2. the stand-in base image -----------------------------------------------------------------
# Every FROM of the Dockerfile must name an image that exists; only python:3.11-slim has a recipe.
mapfile -t FROMS < <(awk 'toupper($1) == "FROM" {
    for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; break } }' "$REPO/Dockerfile")
mapfile -t STAGES < <(awk 'toupper($1) == "FROM" && toupper($(NF-1)) == "AS" { print $NF }' \
  "$REPO/Dockerfile")
for ref in "${FROMS[@]}"; do
  if printf '%s\n' "${STAGES[@]}" | grep -qxF "$ref"; then continue; fi
  [ "$ref" = "$BASE_WANTED" ] || [ "$ref" = "$BASE_REF" ] \
    || die "the Dockerfile uses base image '$ref'; this script only has a stand-in for $BASE_WANTED"
done

debian_mirror() {
  if [ -n "${SNDIAG_SMOKE_MIRROR:-}" ]; then echo "$SNDIAG_SMOKE_MIRROR"; return; fi
  local m
  m=$(sed -nE 's#^URIs:[[:space:]]*(\S+/debian)/?$#\1#p;
               s#^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(\S+/debian)/?[[:space:]].*#\2#p' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}

# The machine's pip settings that reach a network index (local file:// indexes do not exist in
# the build): PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST, PIP_DEFAULT_TIMEOUT.
pip_env() {
  local key var val urls
  for key in index-url extra-index-url trusted-host default-timeout; do
    var=PIP_$(tr 'a-z-' 'A-Z_' <<<"$key")
    val=${!var:-}
    if [ -z "$val" ]; then
      val=$(python3 -m pip config get "global.$key" 2>/dev/null || true)
    fi
    [ -n "$val" ] || continue
    case $key in
      *-url) urls=$(tr ' ' '\n' <<<"$val" | grep -E '^https?://' | paste -sd' ' || true)
             [ -z "$urls" ] || echo "$var=$urls" ;;
      *) echo "$var=$val" ;;
    esac
  done
}

build_standin_tarball() {  # -> $1
  local tarball=$1 rootfs=$WORK/rootfs mirror
  mirror=$(debian_mirror)
  log "debootstrap $SUITE from $mirror (a few minutes)"
  timeout 1800 debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates,netbase,tzdata \
    "$SUITE" "$rootfs" "$mirror" >"$LOGS/debootstrap.log" 2>&1 \
    || die "debootstrap failed: $LOGS/debootstrap.log"
  # apt: the same Debian sources and settings as this machine (the Dockerfile runs apt-get)
  rm -f "$rootfs/etc/apt/sources.list"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
  elif [ -f /etc/apt/sources.list ]; then
    cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list"
  else
    printf 'deb %s %s main\n' "$mirror" "$SUITE" >"$rootfs/etc/apt/sources.list"
  fi
  apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date) ' \
    >"$rootfs/etc/apt/apt.conf.d/99sndiag-smoke" || true
  # TLS: this machine's extra certificate authorities (the network presents its own)
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
  fi
  if ! cmp -s /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"; then
    cat /etc/ssl/certs/ca-certificates.crt >>"$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  # like the official image: pip may install outside a venv; no apt lists; no host files
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/* \
    "$rootfs"/var/log/*.log
  : >"$rootfs/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
  local v
  v=$(chroot "$rootfs" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$v" = 3.11 ] || die "the stand-in's python3 is $v, not 3.11"
  if findmnt -rno TARGET | grep -q "^$rootfs/"; then die "mounts left under $rootfs"; fi
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" \
    --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
}

BASE_NOTE=""
if [ "${SNDIAG_SMOKE_REBUILD_BASE:-0}" = 1 ]; then
  podman rmi -f "$BASE_REF" >/dev/null 2>&1 || true
  rm -f "$CACHE/python-3.11-slim-standin.tar"
fi
if podman image exists "$BASE_REF"; then
  if [ "$(podman image inspect -f '{{index .Labels "org.sndiag.smoke-standin"}}' "$BASE_REF" \
          2>/dev/null)" = "" ]; then
    BASE_NOTE="the real $BASE_WANTED (not a stand-in)"
  else
    BASE_NOTE="stand-in (Debian $SUITE rootfs), already imported"
  fi
  result base-image PASS "$BASE_WANTED exists: $BASE_NOTE"
else
  tarball=$CACHE/python-3.11-slim-standin.tar
  [ -s "$tarball" ] || build_standin_tarball "$tarball"
  changes=(--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
           --change "ENV LANG=C.UTF-8"
           --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
           --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt"
           --change "ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"
           --change "LABEL org.sndiag.smoke-standin=debian-$SUITE-debootstrap"
           --change 'CMD ["python3"]')
  while IFS= read -r kv; do
    [ -n "$kv" ] && changes+=(--change "ENV $kv")
  done < <(pip_env)
  log "importing the stand-in as $BASE_REF"
  podman import "${changes[@]}" "$tarball" "$BASE_REF" >/dev/null \
    || die "podman import failed"
  BASE_NOTE="stand-in (Debian $SUITE rootfs), imported from $tarball"
  result base-image PASS "$BASE_NOTE, $(human "$(podman image inspect -f '{{.Size}}' "$BASE_REF")")"
fi

# -- 3. build the real Dockerfile ---------------------------------------------------------------
OLD_ID=$(podman image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
log "podman build -t $IMAGE (log: $LOGS/build.log)"
b0=$SECONDS
if timeout 3600 podman build --pull=never --network=host --isolation=chroot --format docker \
     -t "$IMAGE" -f "$REPO/Dockerfile" "$REPO" >"$LOGS/build.log" 2>&1; then
  image_config "$IMAGE"
  # shellcheck disable=SC2153  # IMG_SIZE is set by image_config
  IMAGE_SIZE=$(human "$IMG_SIZE")
  result build PASS "$IMAGE built in $((SECONDS - b0)) s, size $IMAGE_SIZE ($IMG_SIZE bytes)"
else
  tail -30 "$LOGS/build.log"
  result build FAIL "podman build failed after $((SECONDS - b0)) s: $LOGS/build.log"
  IMAGE_SIZE="n/a"
fi
NEW_ID=$(podman image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then   # the previous run's image, untagged now
  podman rmi "$OLD_ID" >/dev/null 2>&1 || true
fi

summary() {
  echo
  echo "================ docker smoke summary ================"
  printf '%s\n' "${RESULTS[@]}"
  echo "------------------------------------------------------"
  echo "base image : $BASE_WANTED — ${BASE_NOTE:-?}"
  echo "image      : $IMAGE, size ${IMAGE_SIZE:-n/a}"
  echo "total time : $((SECONDS - T0)) s"
  echo "artifacts  : $ART/docker-smoke-*.png, $LOGS/"
  if [ "$FAILED" = 0 ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
}
if [ "$FAILED" = 1 ]; then summary; exit 1; fi

# Image configuration checks (what docker run would do with it).
cfg_ok=1 cfg_msg="USER=$IMG_USER WORKDIR=$IMG_WORKDIR ENTRYPOINT=${IMG_ENTRYPOINT[*]}"
case ${IMG_USER%%:*} in ""|0|root) cfg_ok=0; cfg_msg+=" (runs as root!)" ;; esac
[ ${#IMG_HEALTH[@]} -gt 0 ] || { cfg_ok=0; cfg_msg+=" (no HEALTHCHECK)"; }
[ "$(podman image inspect -f '{{json .Config.Volumes}}' "$IMAGE")" != null ] \
  || { cfg_ok=0; cfg_msg+=" (no VOLUME)"; }
if [ "$cfg_ok" = 1 ]; then result image-config PASS "$cfg_msg, HEALTHCHECK ${IMG_HEALTH[*]}"
else result image-config FAIL "$cfg_msg"; fi

# -- 4. run the image ---------------------------------------------------------------------------
# The image's USER as numeric uid:gid, resolved in the image's /etc/passwd and /etc/group.
resolve_user() {  # resolve_user ROOT -> RUN_UID RUN_GID RUN_HOME
  local root=$1 u=${IMG_USER%%:*} g="" line
  [[ $IMG_USER == *:* ]] && g=${IMG_USER#*:}
  [ -n "$u" ] || u=0
  if [[ ! $u =~ ^[0-9]+$ ]]; then
    line=$(awk -F: -v n="$u" '$1 == n' "$root/etc/passwd") || true
    [ -n "$line" ] || return 1
    u=$(cut -d: -f3 <<<"$line")
  fi
  line=$(awk -F: -v n="$u" '$3 == n' "$root/etc/passwd") || true
  RUN_HOME=$(cut -d: -f6 <<<"$line"); RUN_HOME=${RUN_HOME:-/}
  if [ -z "$g" ]; then g=$(cut -d: -f4 <<<"$line"); g=${g:-0}; fi
  if [[ ! $g =~ ^[0-9]+$ ]]; then
    g=$(awk -F: -v n="$g" '$1 == n { print $3 }' "$root/etc/group")
    [ -n "$g" ] || return 1
  fi
  RUN_UID=$u RUN_GID=$g
}

# Loopback only: a private network namespace with just `lo`, where the image listens on its own
# 0.0.0.0:8501. Host-side tools (curl, Chromium, pytest) join it through innet.
NETNS=sndiag-smoke-$$
if ip netns add "$NETNS" 2>/dev/null && ip netns exec "$NETNS" ip link set lo up; then
  INNET=(nsenter "--net=/run/netns/$NETNS")
  EXTRA_ARGS=()
  NET_NOTE="private netns $NETNS (loopback only), the image's own port $PORT"
else
  ip netns delete "$NETNS" 2>/dev/null || true
  NETNS=""
  INNET=()
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  EXTRA_ARGS=(--server.address=127.0.0.1 "--server.port=$PORT")  # docker run IMAGE ARGS...
  NET_NOTE="no netns: host loopback 127.0.0.1:$PORT (address/port appended as run args)"
fi
URL=http://127.0.0.1:$PORT
innet() { "${INNET[@]}" "$@"; }  # run a host tool where the server's loopback is

DATA=$WORK/data     # the volume at /data: starts as a copy of the image's /data, like a new
mkdir -p "$DATA"    # named volume (ownership and mode set below from the image)
ROOT=""
RUN_N=0

# start_container [KEY=VALUE...]: a new container from the image, started like `docker run -d
# -v DATA:/data [-e KEY=VALUE...] IMAGE`, then waits for /_stcore/health.
start_container() {
  RUN_N=$((RUN_N + 1))
  local name="sndiag-smoke-$$-$RUN_N" t body
  podman create --name "$name" --network=none "$IMAGE" >/dev/null || return 1
  CONTAINERS+=("$name")
  ROOT=$(podman mount "$name") || return 1
  resolve_user "$ROOT" || { log "cannot resolve USER '$IMG_USER' in the image"; return 1; }
  if [ "$RUN_N" = 1 ]; then
    chown --reference="$ROOT/data" "$DATA" && chmod --reference="$ROOT/data" "$DATA" || return 1
  fi
  mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc") || return 1
  mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev" && MOUNTS+=("$ROOT/dev") \
    || return 1
  mount --bind "$DATA" "$ROOT/data" && MOUNTS+=("$ROOT/data") || return 1
  # what the engine provides in every container
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
  RUN_ENV=("${IMG_ENV[@]}")
  printf '%s\n' "${IMG_ENV[@]}" | grep -q '^HOME=' || RUN_ENV+=("HOME=$RUN_HOME")
  RUN_ENV+=("HOSTNAME=${name:0:12}" "$@")
  local logf="$LOGS/server-$RUN_N.log"
  log "container $RUN_N: ${IMG_ENTRYPOINT[*]} ${IMG_CMD[*]} ${EXTRA_ARGS[*]} as $RUN_UID:$RUN_GID" \
      "in $IMG_WORKDIR${*:+ with $*}"
  # not through the innet function: $! must be the process that setsid makes a group leader
  "${INNET[@]}" setsid chroot --userspec="$RUN_UID:$RUN_GID" --groups="$RUN_GID" "$ROOT" \
    /usr/bin/env -i -C "$IMG_WORKDIR" "${RUN_ENV[@]}" \
    "${IMG_ENTRYPOINT[@]}" "${IMG_CMD[@]}" "${EXTRA_ARGS[@]}" >"$logf" 2>&1 </dev/null &
  SERVER_PID=$!
  local started=$EPOCHREALTIME
  for ((t = 0; t < HEALTH_TIMEOUT * 2; t++)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "the server exited early:"; tail -20 "$logf"; SERVER_PID=""; return 1
    fi
    body=$(innet curl -fsS --max-time 2 "$URL/_stcore/health" 2>/dev/null || true)
    if [ "$body" = ok ]; then
      HEALTH_SECS=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
      return 0
    fi
    sleep 0.5
  done
  log "no answer from $URL/_stcore/health within ${HEALTH_TIMEOUT}s:"; tail -20 "$logf"
  return 1
}

# The image's HEALTHCHECK command, run inside the container as its user (like the engine does).
run_healthcheck() {
  local cmd=("${IMG_HEALTH[@]}")
  case ${cmd[0]} in
    CMD) cmd=("${cmd[@]:1}") ;;
    CMD-SHELL) cmd=(/bin/sh -c "${cmd[*]:1}") ;;
    *) return 1 ;;
  esac
  if [ -z "$NETNS" ]; then  # the image's port was overridden: check the port in use
    cmd=("${cmd[@]//:8501/:$PORT}")
  fi
  innet timeout 10 chroot --userspec="$RUN_UID:$RUN_GID" --groups="$RUN_GID" "$ROOT" \
    /usr/bin/env -i -C "$IMG_WORKDIR" "${RUN_ENV[@]}" "${cmd[@]}"
}

# `docker exec CONTAINER python -c ...`
exec_python() {
  timeout 300 chroot --userspec="$RUN_UID:$RUN_GID" --groups="$RUN_GID" "$ROOT" \
    /usr/bin/env -i -C "$IMG_WORKDIR" "${RUN_ENV[@]}" python -c "$1"
}

# `docker rm -f CONTAINER`: stop the server, unmount, remove the container (the volume stays).
remove_container() {
  stop_server
  unmount_all
  remove_containers
  ROOT=""
}

# -- the browser checks of this script ----------------------------------------------------------
cat >"$WORK/ui_check.py" <<'PY'
"""Playwright checks of the running image: demo | dataset ID NAME | login PASSWORD."""
import os
import re
import sys

from playwright.sync_api import expect, sync_playwright

from tests.support.server import IDLE_JS

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SLOW = 120_000
PAGES = ["Data", "Statistics", "Mask", "Scalers", "Experiment", "Export"]


def idle(page):
    for _ in range(2):
        page.wait_for_timeout(300)
        page.wait_for_function(IDLE_JS, timeout=SLOW)


def h1(page, name):
    return page.get_by_role("heading", name=name, exact=True, level=1)


def no_errors(page):
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)


def shoot(page, path):
    """Whole-page screenshot: Streamlit scrolls inside stMain, so the viewport is stretched."""
    size = page.viewport_size
    height = page.evaluate("""() => {
      const m = document.querySelector('[data-testid="stMain"]');
      return m ? m.scrollHeight : document.documentElement.scrollHeight; }""")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"],
                                                                   min(int(height), 8000))})
    page.wait_for_timeout(500)
    page.screenshot(path=path)
    page.set_viewport_size(size)
    print(f"screenshot: {path}")


def only_login_form(page):
    """The gate's sign-in page: a password field and nothing of the app - not even Streamlit's
    root element (the app's page and scripts are not served before sign-in)."""
    expect(page.locator('input[type="password"]')).to_be_visible(timeout=SLOW)
    assert "/_sndiag/signin" in page.url, page.url
    expect(page.locator('[data-testid="stApp"]')).to_have_count(0)
    expect(page.get_by_text(re.compile(r"FSDD sample", re.I))).to_have_count(0)
    for title in PAGES:
        expect(h1(page, title)).to_have_count(0)


def main() -> None:
    mode, url, shot = sys.argv[1:4]
    rest = sys.argv[4:]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ["CHROMIUM"], args=ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        ctx.set_default_timeout(60_000)
        page = ctx.new_page()
        try:
            if mode == "demo":
                page.goto(f"{url}/", wait_until="domcontentloaded", timeout=SLOW)
                expect(h1(page, "Data")).to_be_visible(timeout=SLOW)
                idle(page)
                expect(page.get_by_text(re.compile(r"FSDD sample")).first).to_be_visible()
                expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
                no_errors(page)
                clips = page.locator('[data-testid="stMetric"]').filter(has_text="Clips")
                print("demo rendered:", page.get_by_text(re.compile("The FSDD sample")).first
                      .inner_text()[:100].replace("\n", " "), "| clips:",
                      clips.locator('[data-testid="stMetricValue"]').first.inner_text())
                shoot(page, shot)
            elif mode == "dataset":
                ds_id, name = rest
                page.goto(f"{url}/?ds={ds_id}", wait_until="domcontentloaded", timeout=SLOW)
                expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(
                    timeout=SLOW)
                idle(page)
                expect(page.locator('[data-testid="stSidebarUserContent"]')).to_contain_text(
                    f"id {ds_id[:12]}")
                expect(page.get_by_text("The store is empty.")).to_have_count(0)
                no_errors(page)
                clips = page.locator('[data-testid="stMetric"]').filter(has_text="Clips")
                n_clips = clips.locator('[data-testid="stMetricValue"]').first.inner_text()
                # the Data page's store list offers it too
                # (a click can land while a rerun redraws the box: retry until the list opens)
                options = page.get_by_role("option")
                for _ in range(5):
                    page.get_by_role("combobox", name="Dataset").click()
                    try:
                        expect(options.first).to_be_visible(timeout=3000)
                        break
                    except AssertionError:
                        page.keyboard.press("Escape")
                        idle(page)
                expect(options.filter(has_text=ds_id[:12])).to_have_count(1)
                listed = options.all_inner_texts()
                page.keyboard.press("Escape")
                print(f"the link ?ds={ds_id[:12]}... opened '{name}' ({n_clips} clips) from the "
                      f"store; the store list offers {len(listed)}: {'; '.join(listed)}")
                shoot(page, shot)
            elif mode == "login":
                (password,) = rest
                page.goto(f"{url}/", wait_until="domcontentloaded", timeout=SLOW)
                only_login_form(page)
                page.screenshot(path=shot)
                print("login gate: the sign-in page and nothing of the app at /")
                # every page's own URL is gated too
                for path in ["data", "statistics", "mask", "scalers", "experiment", "export",
                             f"?ds={'0' * 64}"]:
                    other = ctx.new_page()
                    other.goto(f"{url}/{path}", wait_until="domcontentloaded", timeout=SLOW)
                    only_login_form(other)
                    other.close()
                print("login gate: /data, /statistics, /mask, /scalers, /experiment, /export and "
                      "a ?ds= link show the sign-in page only")
                field = page.locator('input[type="password"]')
                field.fill("not-" + password)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_text("Wrong password")).to_be_visible(timeout=SLOW)
                only_login_form(page)
                print("a wrong password is refused")
                page.locator('input[type="password"]').fill(password)
                page.get_by_role("button", name="Sign in").click()
                expect(h1(page, "Data")).to_be_visible(timeout=SLOW)
                idle(page)
                expect(page.get_by_text(re.compile(r"FSDD sample")).first).to_be_visible()
                print("the right password opens the dashboard")
                shoot(page, shot.replace(".png", "-signed-in.png"))
            else:
                raise SystemExit(f"unknown mode {mode}")
        except Exception:
            page.screenshot(path=shot.replace(".png", "-failed.png"), full_page=True)
            print(f"failed; page saved as {shot.replace('.png', '-failed.png')}")
            raise
        finally:
            browser.close()


main()
PY
ui_check() { innet env CHROMIUM="$CHROMIUM" PYTHONPATH="$REPO" timeout 600 "$PY" "$WORK/ui_check.py" "$@"; }

# -- 4/5. first container: health, healthcheck, demo in the browser -----------------------------
rm -f "$ART"/docker-smoke-*.png
if start_container; then
  result start PASS "health ok after ${HEALTH_SECS}s; $NET_NOTE; /data owned $(stat -c %u:%g "$DATA")"
  if run_healthcheck >"$LOGS/healthcheck.out" 2>&1; then
    result healthcheck PASS "image HEALTHCHECK '${IMG_HEALTH[*]:1}' -> $(head -c 40 "$LOGS/healthcheck.out")"
  else
    result healthcheck FAIL "image HEALTHCHECK failed: $(head -c 200 "$LOGS/healthcheck.out")"
  fi

  if ui_check demo "$URL" "$ART/docker-smoke-demo.png" >"$LOGS/ui-demo.log" 2>&1; then
    result demo-renders PASS "$(grep '^demo rendered' "$LOGS/ui-demo.log" | head -c 160); $ART/docker-smoke-demo.png"
  else
    tail -25 "$LOGS/ui-demo.log"
    result demo-renders FAIL "see $LOGS/ui-demo.log"
  fi

  if [ "${SNDIAG_SMOKE_BROWSER_TESTS:-1}" = 0 ]; then
    result browser-tests SKIP "SNDIAG_SMOKE_BROWSER_TESTS=0"
  elif [ -d "$REPO/tests/browser" ]; then
    log "tests/browser against the image (SNDIAG_BASE_URL=$URL; log: $LOGS/browser-tests.log)"
    # shellcheck disable=SC2086
    if (cd "$REPO" && innet env SNDIAG_BASE_URL="$URL" SNDIAG_CHROMIUM="$CHROMIUM" timeout 1800 \
          "$PY" -m pytest tests/browser -q -p no:cacheprovider ${SNDIAG_SMOKE_PYTEST_ARGS:-}) \
          >"$LOGS/browser-tests.log" 2>&1; then
      result browser-tests PASS "$(tail -1 "$LOGS/browser-tests.log"); screenshots in $ART/browser/"
    else
      tail -40 "$LOGS/browser-tests.log"
      result browser-tests FAIL "$(tail -1 "$LOGS/browser-tests.log"); see $LOGS/browser-tests.log"
    fi
  else
    result browser-tests SKIP "no tests/browser in the repo (the check of this script ran)"
  fi

  # -- 6. persistence: a dataset into the volume through the store API (docker exec) ----------
  # A dataset of its own (not the demo: another seed and size, a name, not marked synthetic).
  SMOKE_NAME="docker-smoke probe"
  if exec_python "
import dataclasses, os, sndiag.demo, sndiag.store
store = sndiag.store.FileStore(os.environ['SNDIAG_STORE'])
ds = dataclasses.replace(sndiag.demo.make_demo(seed=1, n_per_class=25),
                         provenance={'name': '$SMOKE_NAME', 'source': 'scripts/docker-smoke.sh'})
entry = store.put(ds)
print('PUT', entry.dataset_id)
for e in store.entries():
    print('ENTRY', e.dataset_id, e.n_clips, e.name)
" >"$LOGS/store-put.log" 2>&1; then
    SMOKE_ID=$(awk '$1 == "PUT" { print $2 }' "$LOGS/store-put.log")
    BEFORE=$(grep '^ENTRY' "$LOGS/store-put.log" | sort)
    result store-put PASS "as uid $RUN_UID into \$SNDIAG_STORE: ${SMOKE_ID:0:12} ($(grep -c '^ENTRY' \
      "$LOGS/store-put.log") dataset(s) in the store)"
  else
    cat "$LOGS/store-put.log"
    result store-put FAIL "see $LOGS/store-put.log"
    SMOKE_ID=""
  fi
else
  result start FAIL "the server did not become healthy: $LOGS/server-$RUN_N.log"
fi
remove_container

# -- 6. persistence across a new container on the same volume -----------------------------------
if [ -n "${SMOKE_ID:-}" ]; then
  if start_container; then
    if exec_python "
import os, sndiag.store
store = sndiag.store.FileStore(os.environ['SNDIAG_STORE'])
for e in store.entries():
    print('ENTRY', e.dataset_id, e.n_clips, e.name)
ds = store.get('$SMOKE_ID')   # re-hashes the content
print('LOADED', ds.content_hash, ds.n_clips)
" >"$LOGS/store-after-restart.log" 2>&1 \
       && [ "$(grep '^ENTRY' "$LOGS/store-after-restart.log" | sort)" = "$BEFORE" ] \
       && grep -q "^LOADED $SMOKE_ID " "$LOGS/store-after-restart.log"; then
      result persist-store PASS "new container, same volume: all $(grep -c '^ENTRY' \
        "$LOGS/store-after-restart.log") entries listed, ${SMOKE_ID:0:12} loads and verifies"
    else
      cat "$LOGS/store-after-restart.log"
      result persist-store FAIL "entries differ or the dataset does not load: $LOGS/store-after-restart.log"
    fi
    if ui_check dataset "$URL" "$ART/docker-smoke-persisted.png" "$SMOKE_ID" "$SMOKE_NAME" \
         >"$LOGS/ui-dataset.log" 2>&1; then
      result persist-browser PASS "$(grep '^the link' "$LOGS/ui-dataset.log"); $ART/docker-smoke-persisted.png"
    else
      tail -25 "$LOGS/ui-dataset.log"
      result persist-browser FAIL "see $LOGS/ui-dataset.log"
    fi
  else
    result persist-store FAIL "the second container did not become healthy: $LOGS/server-$RUN_N.log"
  fi
  remove_container
else
  result persist-store SKIP "no dataset was put (see above)"
fi

# -- 7. the gate (password) --------------------------------------------------------------------
cat >"$WORK/gate_check.py" <<'PY'
"""Raw HTTP against the running image: gate_check.py URL PASSWORD SERVER_PID."""
import sys

import requests

from tests.support.probe import (MB, open_session, password_sign_in, put_upload, server_rss,
                                 upgrade_status)

url, password, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
fake = "3f2b8c1e-0000-4000-8000-000000000000"
assert requests.get(f"{url}/_stcore/health", timeout=10).text == "ok"
before = server_rss(pid)
codes = [put_upload(url, fake, 100 * MB, wait_for_answer=False).status for _ in range(3)]
after = server_rss(pid)
assert codes == [401] * 3, codes
assert after - before < 40 * MB, (before, after)
print(f"gate: three 100 MB uploads before sign-in -> {codes}, server RSS "
      f"{before / MB:.0f} -> {after / MB:.0f} MB")
status = upgrade_status(url)
assert status == 401, status
print(f"gate: WebSocket before sign-in -> {status}")
http = requests.Session()
answer = password_sign_in(url, password, name="docker-smoke", session=http)
assert answer.status_code == 303 and "_streamlit_user" in http.cookies, answer.status_code
jar = dict(http.cookies)
status = upgrade_status(url, jar)
assert status == 101, status
with open_session(url, jar) as (_, session_id, xsrf):
    upload = put_upload(url, session_id, MB, cookies=jar, xsrf=xsrf)
assert upload.status == 204, upload
print(f"gate: signed in (303); WebSocket -> {status}; 1 MB upload -> {upload.status}")
PY

if ! grep -q 'st.App(' "$REPO/app.py"; then
  result gate PENDING "app.py does not build the gated st.App yet"
else
  SMOKE_PASSWORD="smoke-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  if start_container "SNDIAG_PASSWORD=$SMOKE_PASSWORD"; then
    if innet env PYTHONPATH="$REPO" timeout 600 "$PY" "$WORK/gate_check.py" "$URL" \
         "$SMOKE_PASSWORD" "$SERVER_PID" >"$LOGS/gate-http.log" 2>&1; then
      result gate-http PASS "$(grep '^gate:' "$LOGS/gate-http.log" | cut -c7- | paste -sd ';' -)"
    else
      tail -25 "$LOGS/gate-http.log"
      result gate-http FAIL "see $LOGS/gate-http.log"
    fi
    if ui_check login "$URL" "$ART/docker-smoke-login.png" "$SMOKE_PASSWORD" \
         >"$LOGS/ui-login.log" 2>&1; then
      result login-gate PASS "sign-in page only (at / and each page's URL); wrong password refused; right one opens the demo; $ART/docker-smoke-login.png"
    else
      tail -25 "$LOGS/ui-login.log"
      result login-gate FAIL "see $LOGS/ui-login.log"
    fi
  else
    result gate-http FAIL "the container with SNDIAG_PASSWORD did not become healthy"
  fi
  remove_container
fi

# -- 8. summary ---------------------------------------------------------------------------------
summary | tee "$LOGS/summary.txt"
exit "$FAILED"
