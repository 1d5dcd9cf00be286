#!/bin/sh
# nginx (Debian's) in front of the web replicas: terminates TLS, passes the client address
# and scheme on. Configured from the environment:
#   PROXY_UPSTREAMS   web replicas, space-separated host:port (default "web:8000"; with
#                     compose's `--scale web=N` the name resolves to every replica)
#   PROXY_HTTPS_LISTEN / PROXY_HTTP_LISTEN   default 443 / 80 (may be addr:port)
#   PROXY_SERVER_NAME server_name (default _ : any)
#   TLS_CERT, TLS_KEY  PEM files (default /etc/nginx/tls/fullchain.pem, privkey.pem);
#                     when absent a self-signed pair is made (for trying it out only)
# X-Forwarded-For: nginx APPENDS the connecting address to whatever the client sent, so
# the portal (TRUSTED_PROXY_COUNT=1) takes the rightmost entry and ignores the rest.
# Plain HTTP is redirected to HTTPS except /webhooks/ and /healthz, which are passed
# through: a Stripe event POSTed to http:// must not be answered with a redirect (Stripe
# does not follow it and the event would be lost); its signature is what makes it trusted.
set -eu
UPSTREAMS=${PROXY_UPSTREAMS:-web:8000}
HTTPS_LISTEN=${PROXY_HTTPS_LISTEN:-443}
HTTP_LISTEN=${PROXY_HTTP_LISTEN:-80}
SERVER_NAME=${PROXY_SERVER_NAME:-_}
TLS_CERT=${TLS_CERT:-/etc/nginx/tls/fullchain.pem}
TLS_KEY=${TLS_KEY:-/etc/nginx/tls/privkey.pem}

if [ ! -s "$TLS_CERT" ] || [ ! -s "$TLS_KEY" ]; then
  echo "proxy: no certificate at $TLS_CERT: making a self-signed one (not for production)" >&2
  mkdir -p /tmp/tls
  TLS_CERT=/tmp/tls/fullchain.pem TLS_KEY=/tmp/tls/privkey.pem
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null
fi

servers=""
for upstream in $UPSTREAMS; do
  servers="$servers    server $upstream max_fails=2 fail_timeout=5s;
"
done

cat >/etc/nginx/conf.d/portal.conf <<CONF
upstream portal_web {
$servers    keepalive 16;
}
log_format portal '\$remote_addr "\$request" \$status upstream=\$upstream_addr '
                  'request_id=\$http_x_request_id xff="\$proxy_add_x_forwarded_for" '
                  'rt=\$request_time';
access_log /dev/stdout portal;
client_max_body_size 5m;

map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }

server {
    listen $HTTP_LISTEN default_server;
    server_name $SERVER_NAME;
    location /webhooks/ { include /etc/nginx/portal_proxy.conf; }
    location = /healthz { include /etc/nginx/portal_proxy.conf; }
    location / { return 301 https://\$host\$request_uri; }
}

server {
    listen $HTTPS_LISTEN ssl default_server;
    http2 on;
    server_name $SERVER_NAME;
    ssl_certificate $TLS_CERT;
    ssl_certificate_key $TLS_KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:portal_tls:10m;
    location / { include /etc/nginx/portal_proxy.conf; }
}
CONF

cat >/etc/nginx/portal_proxy.conf <<'CONF'
proxy_pass http://portal_web;
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_set_header Host $host;
proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Forwarded-Host $host;
proxy_set_header X-Real-IP "";
proxy_connect_timeout 5s;
proxy_read_timeout 60s;
proxy_next_upstream error timeout http_502 http_503;
proxy_next_upstream_tries 2;
CONF

nginx -t -q
exec nginx -g 'daemon off;'
