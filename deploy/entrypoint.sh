#!/bin/sh
# The image's entry point: one image, one role per container.
#   web      gunicorn on $PORT (default 8000); WEB_CONCURRENCY processes (default 3); no
#            access log here: the proxy logs each request with the real client address
#   worker   a Celery worker; CELERY_CONCURRENCY processes (default 2)
#   beat     Celery beat: run exactly ONE per deployment (two would send every reminder
#            twice); its schedule file lives in /var/lib/portal (a volume or tmpfs)
#   migrate  apply migrations once, then exit (compose runs it before web starts)
#   manage   any manage.py command, e.g. `manage createsuperuser`
# Anything else is run as given.
set -e
cd /app
role=${1:-web}
[ $# -gt 0 ] && shift
case "$role" in
  web)
    exec gunicorn config.wsgi:application \
      --bind "${BIND:-0.0.0.0:${PORT:-8000}}" \
      --workers "${WEB_CONCURRENCY:-3}" --timeout "${WEB_TIMEOUT_SECONDS:-30}" \
      --worker-tmp-dir /dev/shm "$@"
    ;;
  worker)
    exec celery -A config worker -l "${CELERY_LOG_LEVEL:-info}" \
      --concurrency "${CELERY_CONCURRENCY:-2}" "$@"
    ;;
  beat)
    exec celery -A config beat -l "${CELERY_LOG_LEVEL:-info}" \
      --schedule /var/lib/portal/celerybeat-schedule --pidfile= "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
