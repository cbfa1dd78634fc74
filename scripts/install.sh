#!/usr/bin/env bash
# Installs discovery-bridge as a systemd service: binary, unit, a system user, and a config skeleton.
# Never overwrites an existing config. Usage: install.sh PATH-TO-BINARY PREFIX   (DESTDIR is honoured for packaging)
set -euo pipefail
binary="${1:?usage: install.sh PATH-TO-BINARY PREFIX}"
prefix="${2:-/usr/local}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${DESTDIR:-}"

install -d -m 0755 "$dest$prefix/bin" "$dest/etc/systemd/system" "$dest$prefix/share/doc/discovery-bridge"
install -m 0755 "$binary" "$dest$prefix/bin/discovery-bridge"
sed "s#/usr/local/bin/discovery-bridge#$prefix/bin/discovery-bridge#g" "$root/systemd/discovery-bridge.service" \
    > "$dest/etc/systemd/system/discovery-bridge.service"
chmod 0644 "$dest/etc/systemd/system/discovery-bridge.service"
# HAProxy loads the managed config's folder (an empty folder loads nothing, so this is harmless until
# haproxy.managed_config is set). Never replaces a drop-in the operator edited.
install -d -m 0755 "$dest/etc/systemd/system/haproxy.service.d"
if [ ! -e "$dest/etc/systemd/system/haproxy.service.d/discovery-bridge.conf" ]; then
    sed "s#/usr/local/bin/discovery-bridge#$prefix/bin/discovery-bridge#g" "$root/systemd/haproxy.service.d/discovery-bridge.conf" \
        > "$dest/etc/systemd/system/haproxy.service.d/discovery-bridge.conf"
    chmod 0644 "$dest/etc/systemd/system/haproxy.service.d/discovery-bridge.conf"
fi
install -m 0644 "$root/README.md" "$root/config.sample.json" "$dest$prefix/share/doc/discovery-bridge/"

install -d -m 0750 "$dest/etc/discovery-bridge"
if [ ! -e "$dest/etc/discovery-bridge/config.json" ]; then
    # A minimal working skeleton (file provider only); config.sample.json in the doc folder shows every key.
    cat > "$dest/etc/discovery-bridge/config.json" <<'JSON'
{
  "haproxy": { "runtime_api": "unix:/run/haproxy/api.sock", "timeout_ms": 2000 },
  "state_file": "/var/lib/discovery-bridge/state.json",
  "metrics": { "listen": "127.0.0.1:9105" },
  "providers": { "file": { "path": "/etc/discovery-bridge/instances.json" } },
  "backends": [
    { "name": "web", "slots": 10, "server_prefix": "slot", "port": 8080,
      "sources": [ { "provider": "file", "service": "web" } ],
      "health": "passing", "drain_timeout": "30s", "growth": { "mode": "add_server", "increment": 10 } }
  ],
  "guard": { "max_removed_fraction": 0.5, "min_servers": 1 }
}
JSON
    chmod 0640 "$dest/etc/discovery-bridge/config.json"
    echo "wrote /etc/discovery-bridge/config.json (file provider skeleton): edit it, then 'discovery-bridge validate'"
fi
if [ ! -e "$dest/etc/discovery-bridge/instances.json" ]; then
    echo '{"services": {}}' > "$dest/etc/discovery-bridge/instances.json"
    chmod 0640 "$dest/etc/discovery-bridge/instances.json"
fi

if [ -z "$dest" ]; then
    if ! getent passwd discovery-bridge >/dev/null; then
        useradd --system --no-create-home --home-dir /var/lib/discovery-bridge --shell /usr/sbin/nologin discovery-bridge
    fi
    getent group haproxy >/dev/null && usermod -a -G haproxy discovery-bridge || true
    chgrp discovery-bridge /etc/discovery-bridge /etc/discovery-bridge/config.json /etc/discovery-bridge/instances.json
    install -d -m 0711 -o discovery-bridge -g discovery-bridge /var/lib/discovery-bridge
    # The managed config's folder: the bridge writes, HAProxy's group reads (setgid: new files keep the group).
    haproxy_group=haproxy
    getent group haproxy >/dev/null || haproxy_group=discovery-bridge
    install -d -m 2750 -o discovery-bridge -g "$haproxy_group" /var/lib/discovery-bridge/haproxy
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        echo "installed; start with: systemctl enable --now discovery-bridge"
    else
        echo "installed (systemd not running here: unit written to /etc/systemd/system)"
    fi
fi
