#!/usr/bin/env bash
# make image: build the portal image ($IMAGE, the default target), its proxy
# ($PROXY_IMAGE) and the demo image with the fake Stripe ($DEMO_IMAGE) from the wheelhouse, with a Docker daemon of our own if none answers.
# BASE_IMAGE defaults to debian:trixie-slim; local/<suite>:base is made with debootstrap
# where no registry is reachable (this CI machine: BASE_IMAGE=local/trixie:base).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BASE_IMAGE:=debian:trixie-slim}" "${IMAGE:=portal:latest}" "${PROXY_IMAGE:=portal-proxy:latest}"
: "${DEMO_IMAGE:=portal-demo:latest}"
source deploy/docker-env.sh
trap docker_down EXIT
docker_up
base_image_ready "$BASE_IMAGE"
export DOCKER_BUILDKIT=0  # the legacy builder: no buildx plugin needed
started=$(date +%s)
for target in runtime proxy demo; do
  case $target in runtime) tag=$IMAGE ;; proxy) tag=$PROXY_IMAGE ;; demo) tag=$DEMO_IMAGE ;; esac
  echo "== docker build --target $target -t $tag (BASE_IMAGE=$BASE_IMAGE)"
  docker build --quiet --network host --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --target "$target" -t "$tag" . >/dev/null
done
echo "built $IMAGE, $PROXY_IMAGE and $DEMO_IMAGE in $(( $(date +%s) - started )) s"
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "^(${IMAGE%%:*}|${PROXY_IMAGE%%:*}|${DEMO_IMAGE%%:*}):" || true
docker run --rm --network none --entrypoint python "$IMAGE" -c \
  'import sys, django, weasyprint; assert sys.version_info[:2] == (3, 13); print("image: Python", sys.version.split()[0], "Django", django.get_version(), "WeasyPrint", weasyprint.__version__)'
if docker run --rm --network none --entrypoint python "$IMAGE" -c 'import localstripe' 2>/dev/null; then
  echo "the image contains localstripe: it must not" >&2; exit 1
fi
docker run --rm --network none --entrypoint python "$DEMO_IMAGE" -c 'import localstripe' \
  || { echo "the demo image lacks the fake Stripe" >&2; exit 1; }
