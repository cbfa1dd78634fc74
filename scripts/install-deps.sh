#!/usr/bin/env bash
# Installs the system and Python packages discovery-bridge needs to build, test and run its demo.
# Idempotent: does nothing when everything is present.
set -euo pipefail

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
[ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] || [ -f /usr/include/aarch64-linux-gnu/curl/curl.h ] || missing+=(libcurl4-openssl-dev)
pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev pkg-config)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
command -v dpkg-shlibdeps >/dev/null 2>&1 || missing+=(dpkg-dev)
command -v strip >/dev/null 2>&1 || missing+=(binutils)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# moto_server (EC2 endpoint for tests) and boto3 (seeding it).
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c 'import boto3, flask, flask_cors' >/dev/null 2>&1; then
    echo "installing Python packages: moto[server] boto3"
    python3 -m pip install -q 'moto[server]>=5,<6' boto3 || python3 -m pip install -q --break-system-packages 'moto[server]>=5,<6' boto3
fi

# hypercorn: the Consul fake's TLS listener (HTTP/2 by ALPN) for the HTTP/2 multiplexing tests and bench.
if ! python3 -c 'import hypercorn, h2' >/dev/null 2>&1; then
    echo "installing Python packages: hypercorn"
    python3 -m pip install -q 'hypercorn>=0.17,<0.19' || python3 -m pip install -q --break-system-packages 'hypercorn>=0.17,<0.19'
fi

# promtool (checks and unit-tests contrib/prometheus/*.yml) from Debian's prometheus package, unpacked rather than
# installed: installing the package would also start a Prometheus server listening on *:9090.
tools="$(cd "$(dirname "$0")/.." && pwd)/.build/tools"
if ! command -v promtool >/dev/null 2>&1 && [ ! -x "$tools/promtool" ]; then
    echo "unpacking promtool from Debian's prometheus package into $tools"
    download="$(mktemp -d /tmp/db-promtool-XXXXXX)"
    chmod 0777 "$download"   # apt's _apt user writes the download
    (cd "$download" && apt-get download -qq prometheus 2>/dev/null) || {
        "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        (cd "$download" && apt-get download -qq prometheus)
    }
    mkdir -p "$tools"
    dpkg-deb --fsys-tarfile "$download"/prometheus_*.deb | tar -x -C "$download" ./usr/bin/promtool
    install -m 0755 "$download/usr/bin/promtool" "$tools/promtool"
    rm -rf "$download"
fi
