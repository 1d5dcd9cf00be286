#!/usr/bin/env bash
# make image-smoke: runs deploy/smoke.py (the steps and checks) with a Docker daemon; a
# daemon this script started is stopped on exit, and every container labelled
# portal-smoke is removed, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${IMAGE:=portal:latest}" "${PROXY_IMAGE:=portal-proxy:latest}"
export IMAGE PROXY_IMAGE
source deploy/docker-env.sh
cleanup() {
  ids=$(docker ps -aq --filter label=portal-smoke 2>/dev/null || true)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
  docker_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM
docker_up
.venv/bin/python deploy/smoke.py
