# The portal's image: Debian's own Python 3.13 on trixie, the locked wheels only, non-root.
#
#   make wheels   # on the host: wheels/ = the lock's runtime (and demo) wheels, with hashes
#   make image    # docker build --build-arg BASE_IMAGE=... -t $(IMAGE) .
#
# Nothing is fetched from a package index inside the build: pip installs from wheels/ with
# --no-index --require-hashes (air-gapped builds work; apt needs only a Debian mirror).
# Stages: `os` (Debian + WeasyPrint's libraries), `venv` (the locked runtime wheels),
# `app` (code + static files), `demo` (adds the fake Stripe, for compose's demo profile),
# `proxy` (Debian's nginx, TLS in front of the web replicas), `runtime` (the default).
ARG BASE_IMAGE=debian:trixie-slim

FROM ${BASE_IMAGE} AS os
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# python3 (3.13 on trixie); Pango, HarfBuzz and fonts for WeasyPrint's PDFs (receipts,
# certificates); tzdata and CA certificates for Stripe/SMTP over TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates tzdata \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
      fonts-dejavu-core fontconfig \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/man/* \
 && find /usr/share/doc -type f ! -name copyright -delete \
 && python3 -c 'import sys; assert sys.version_info[:2] == (3, 13), sys.version'

FROM os AS venv
# wheels/ is made on the host by `make wheels` (runtime.txt and demo.txt are exported
# from uv.lock with every file's hash).
COPY wheels/ /wheels/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --quiet --no-index --find-links /wheels --require-hashes \
      --only-binary :all: -r /wheels/runtime.txt \
 && /opt/venv/bin/pip check

FROM os AS app
RUN groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid portal --home-dir /var/lib/portal --shell /usr/sbin/nologin portal \
 && install -d -o portal -g portal -m 0750 /var/lib/portal /var/lib/portal/media
COPY --from=venv /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    MEDIA_ROOT=/var/lib/portal/media \
    PORT=8000
WORKDIR /app
COPY manage.py pyproject.toml LICENSE /app/
COPY config/ /app/config/
COPY apps/ /app/apps/
COPY templates/ /app/templates/
COPY static/ /app/static/
COPY deploy/entrypoint.sh deploy/healthcheck.py /app/deploy/
# Static files with the production storage (DATABASE_URL set => DEBUG off => whitenoise's
# manifest), so the running container finds every manifest entry. The database URL and key
# are throwaway: collectstatic touches neither.
RUN DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 SECRET_KEY=collectstatic-only \
      ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput -v0 \
 && test -s /app/staticfiles/staticfiles.json \
 && python -m compileall -q /app/apps /app/config \
 && chmod 0755 /app/deploy/entrypoint.sh
# Code and static files are root-owned and read-only to the app. The one place it writes
# is /var/lib/portal: celery beat's schedule and MEDIA_ROOT (mount a volume or tmpfs there
# to run with --read-only).
VOLUME ["/var/lib/portal"]
USER portal
EXPOSE 8000
# /healthz (database, cache, broker) of the web process on $PORT. Worker and beat have no
# HTTP port: compose gives them their own checks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "/app/deploy/healthcheck.py"]
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]

# The offline demo (compose --profile demo): the runtime plus the fake Stripe (localstripe,
# GPL-3.0), which the production image never contains.
FROM app AS demo
USER root
COPY wheels/ /wheels/
# localstripe has no published wheel: `make wheels` built it from the lock's hash-checked
# sdist, so this one install goes by the pinned version, not by hash.
RUN /opt/venv/bin/pip install --quiet --no-index --find-links /wheels \
      "$(grep -o '^localstripe==[^ ]*' /wheels/demo.txt)" \
 && rm -rf /wheels
USER portal

# TLS reverse proxy: Debian's nginx; deploy/proxy/entrypoint.sh writes its configuration
# from the environment (upstream web replicas, certificate, trusted client addresses).
FROM os AS proxy
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx openssl \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/man/* \
 && find /usr/share/doc -type f ! -name copyright -delete \
 && rm -f /etc/nginx/sites-enabled/default \
 && ln -sf /dev/null /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY deploy/proxy/entrypoint.sh /usr/local/bin/proxy-entrypoint
RUN chmod 0755 /usr/local/bin/proxy-entrypoint
EXPOSE 80 443
ENTRYPOINT ["/usr/local/bin/proxy-entrypoint"]

# The default target: what `docker build .` and `make image` produce.
FROM app AS runtime
