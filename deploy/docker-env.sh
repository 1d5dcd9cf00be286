# Sourced by deploy/*.sh: a Docker daemon to talk to, and the base image.
#
# If DOCKER_HOST (or the default socket) already answers, that daemon is used and left
# alone. Otherwise this starts a private dockerd (host networking only: no bridge, no
# iptables rules; its own data/exec root and socket) and stops it when the calling script
# exits, so CI never hangs on a daemon left behind.
#
# BASE_IMAGE (default debian:trixie-slim) is pulled when a registry is reachable. Where
# none is (air-gapped machines, this CI box), BASE_IMAGE=local/trixie:base is built from
# Debian's own mirror with debootstrap and imported.

DOCKERD_ROOT=${DOCKERD_ROOT:-/var/lib/portal-docker}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)}
_portal_dockerd_pid=

docker_up() {
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$DOCKERD_ROOT/data" "$DOCKERD_ROOT/exec"
  export DOCKER_HOST="unix://$DOCKERD_ROOT/docker.sock"
  if docker info >/dev/null 2>&1; then
    return 0  # a private daemon from an earlier run is still up: use it
  fi
  echo "starting a private dockerd ($DOCKERD_ROOT)"
  dockerd --data-root "$DOCKERD_ROOT/data" --exec-root "$DOCKERD_ROOT/exec" \
    --pidfile "$DOCKERD_ROOT/dockerd.pid" -H "$DOCKER_HOST" \
    --iptables=false --ip-masq=false --bridge=none \
    >"$DOCKERD_ROOT/dockerd.log" 2>&1 &
  _portal_dockerd_pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "dockerd did not start; see $DOCKERD_ROOT/dockerd.log" >&2
  tail -20 "$DOCKERD_ROOT/dockerd.log" >&2
  return 1
}

docker_down() {
  if [ -n "$_portal_dockerd_pid" ]; then
    kill "$_portal_dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$_portal_dockerd_pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$_portal_dockerd_pid" 2>/dev/null || true
    _portal_dockerd_pid=
  fi
}

# Makes sure $BASE_IMAGE exists in the daemon: pull it, or for local/* build it with
# debootstrap (about 30 s) and import it.
base_image_ready() {
  local image=$1
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  case "$image" in
    local/*)
      local suite=${image#local/}; suite=${suite%%:*}
      local rootfs; rootfs=$(mktemp -d /var/tmp/portal-rootfs.XXXXXX)
      echo "building $image with debootstrap ($suite from $DEBIAN_MIRROR)"
      debootstrap --variant=minbase "$suite" "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 \
        || { tail -20 "$rootfs.log" >&2; rm -rf "$rootfs"; return 1; }
      # Slim, like debian:*-slim: no apt lists, caches, manuals or translations (copyright
      # files stay), and dpkg keeps them out of later installs too.
      rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/man/* \
        "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
      find "$rootfs"/usr/share/doc -type f ! -name copyright -delete
      printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' > "$rootfs"/etc/dpkg/dpkg.cfg.d/slim
      tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
      rm -rf "$rootfs" "$rootfs.log"
      ;;
    *)
      docker pull "$image" || {
        echo "cannot pull $image (no registry reachable?): build the base from a Debian" \
             "mirror instead with BASE_IMAGE=local/trixie:base (debootstrap)" >&2
        return 1
      }
      ;;
  esac
}
