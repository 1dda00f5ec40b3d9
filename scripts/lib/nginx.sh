# The dev nginx: a self-signed certificate, the site rendered from
# nginx/fleetreg.conf.in, and a master running as root with www-data
# workers. Sourced by scripts/dev, never run.

# Makes a self-signed certificate for 127.0.0.1 and localhost, once.
nginx_certificate_create() {
    if [[ -s $TLS_DIR/cert.pem && -s $TLS_DIR/key.pem ]]; then
        return 0
    fi
    log_step "nginx: self-signed certificate in $TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -days 30 -subj "/CN=fleetreg dev" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" 2>/dev/null
    chmod 0600 "$TLS_DIR/key.pem"
}

# Prints the folder nginx serves the page from: web/ of the checkout,
# so edits show at once, or a copy in the state folder when the www-data
# workers cannot read the checkout (a clone under /root, for example).
nginx_web_root() {
    if runuser -u www-data -- test -r "$ROOT_DIR/web/static/app.js"; then
        echo "$ROOT_DIR/web"
        return 0
    fi
    rm -rf "$STATE_DIR/web"
    cp -R "$ROOT_DIR/web" "$STATE_DIR/web"
    chmod -R a+rX "$STATE_DIR/web"
    echo "$STATE_DIR/web"
}

# Renders the site template and a main configuration that keeps every
# path (pid, logs, temporary files) inside the state folder.
nginx_configure() {
    local web_root second_server=""

    web_root=$(nginx_web_root)
    # With a second instance, the upstream gets its socket as well.
    if [[ -e $SECOND_INSTANCE_MARK ]]; then
        second_server="s|^\( *\)server unix:@SOCKET@\(.*\)$|&\n\1server"
        second_server+=" unix:$RUN_DIR/fleetreg-2.sock\2|"
    fi
    sed -e "$second_server" \
        -e "s|@LISTEN@|127.0.0.1:$HTTPS_PORT|g" \
        -e "s|@TLS_CERT@|$TLS_DIR/cert.pem|g" \
        -e "s|@TLS_KEY@|$TLS_DIR/key.pem|g" \
        -e "s|@WEB_ROOT@|$web_root|g" \
        -e "s|@NGINX_DIR@|$ROOT_DIR/nginx|g" \
        -e "s|@SOCKET@|$RUN_DIR/fleetreg.sock|g" \
        -e "s|@RATE@|${FLEETREG_DEV_RATE:-20r/s}|g" \
        -e "s|@BURST@|${FLEETREG_DEV_BURST:-40}|g" \
        -e "s|@USER_RATE@|${FLEETREG_DEV_USER_RATE:-5r/s}|g" \
        -e "s|@USER_BURST@|${FLEETREG_DEV_USER_BURST:-16}|g" \
        "$ROOT_DIR/nginx/fleetreg.conf.in" >"$ETC_DIR/nginx-site.conf"
    cat >"$NGINX_CONF" <<CONF
# Written by scripts/dev for the dev stack in $STATE_DIR.
user www-data;
worker_processes 2;
worker_rlimit_nofile 10000;
pid $NGINX_PID;
error_log $LOG_DIR/nginx-error.log warn;

events {
    worker_connections 4096;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 30s;
    # The client port and upstream fields let a test match each of its
    # requests to the upstream that served or failed it.
    log_format fleetreg '\$remote_addr:\$remote_port [\$time_local] '
                        '"\$request" \$status \$body_bytes_sent '
                        'request_id=\$request_id upstream=\$upstream_addr '
                        'upstream_status=\$upstream_status '
                        'request_time=\$request_time';
    access_log $LOG_DIR/nginx-access.log fleetreg;
    client_body_temp_path $STATE_DIR/nginx/client_body;
    fastcgi_temp_path $STATE_DIR/nginx/fastcgi;
    proxy_temp_path $STATE_DIR/nginx/proxy;
    uwsgi_temp_path $STATE_DIR/nginx/uwsgi;
    scgi_temp_path $STATE_DIR/nginx/scgi;

    include $ETC_DIR/nginx-site.conf;
}
CONF
    nginx_run -t -q ||
        die "nginx rejected $NGINX_CONF (site: $ETC_DIR/nginx-site.conf)"
}

# Runs nginx on the dev configuration; -e keeps even the first error
# lines, written before the configuration is read, in the state folder.
nginx_run() {
    nginx -e "$LOG_DIR/nginx-error.log" -c "$NGINX_CONF" "$@"
}

nginx_running() {
    pidfile_alive "$NGINX_PID"
}

# Starts nginx, or reloads it when it runs, so template edits apply.
nginx_start() {
    nginx_certificate_create
    nginx_configure
    if nginx_running; then
        log_step "nginx: running (pid $(pidfile_read "$NGINX_PID")); reloading"
        nginx_run -s reload
        return 0
    fi
    log_step "nginx: starting on $HTTPS_URL"
    nginx_run || die "nginx did not start; see $LOG_DIR/nginx-error.log"
}

nginx_stop() {
    if nginx_running; then
        log_step "nginx: stopping"
    fi
    pidfile_stop "$NGINX_PID" 10 nginx
}
