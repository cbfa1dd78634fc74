#!/usr/bin/env bash
# Builds discovery-bridge_<version>_<arch>.deb from a release binary with dpkg-deb (no debhelper, no source package).
# The version comes from VERSION (the file the binary's --version reads too); shared-library dependencies from
# dpkg-shlibdeps. Usage: make-deb.sh PATH-TO-RELEASE-discovery-bridge [OUTPUT-DIR]   Prints the .deb's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${1:?usage: make-deb.sh PATH-TO-RELEASE-discovery-bridge [OUTPUT-DIR]}"
out="${2:-$root}"
pkg="$root/packaging/deb"
version="$(tr -d ' \n' < "$root/VERSION")"
arch="$(dpkg --print-architecture)"
# DEB_MAINTAINER names who answers for the package (Maintainer field, changelog).
maintainer="${DEB_MAINTAINER:-discovery-bridge maintainers <discovery-bridge@example.org>}"
commit="$("$binary" --version | sed -n 's/.*(commit \([^,]*\),.*/\1/p')"

# The binary must be the one VERSION describes: a stale build would ship under the wrong version.
"$binary" --version | grep -q "^discovery-bridge $version " || {
    echo "make-deb: $binary reports '$("$binary" --version)', VERSION says $version: rebuild it" >&2; exit 1; }

head="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || true)"
if [ -n "$head" ] && [ "${commit%-dirty}" != "$head" ]; then
    echo "make-deb: warning: the binary was built from commit $commit, the tree is at $head (make release rebuilds it)" >&2
fi

work="$root/.build/deb"
stage="$work/discovery-bridge_${version}_$arch"
rm -rf "$work"
mkdir -p "$stage/DEBIAN"
umask 0022

install -D -m 0755 "$binary" "$stage/usr/bin/discovery-bridge"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/discovery-bridge"
install -d "$stage/lib/systemd/system"
sed -e 's#/usr/local/bin/discovery-bridge#/usr/bin/discovery-bridge#g' \
    -e 's#^Documentation=.*#Documentation=man:discovery-bridge(8) file:///usr/share/doc/discovery-bridge/README.md.gz#' \
    "$root/systemd/discovery-bridge.service" > "$stage/lib/systemd/system/discovery-bridge.service"
chmod 0644 "$stage/lib/systemd/system/discovery-bridge.service"
install -D -m 0644 "$root/config.sample.json" "$stage/etc/discovery-bridge/config.json"
# The haproxy.service drop-in that loads the managed config (issue 9) changes HAProxy's command line, so it is
# shipped as an example to copy into /etc/systemd/system/haproxy.service.d/, never enabled by the package itself.
install -d "$stage/usr/share/discovery-bridge/haproxy.service.d"
sed -e 's#/usr/local/bin/discovery-bridge#/usr/bin/discovery-bridge#g' \
    "$root/systemd/haproxy.service.d/discovery-bridge.conf" > "$stage/usr/share/discovery-bridge/haproxy.service.d/discovery-bridge.conf"
chmod 0644 "$stage/usr/share/discovery-bridge/haproxy.service.d/discovery-bridge.conf"

doc="$stage/usr/share/doc/discovery-bridge"
install -D -m 0644 "$pkg/copyright" "$doc/copyright"
gzip -9n < "$root/README.md" > "$doc/README.md.gz"
sed -e "s/@VERSION@/$version/g" -e "s/@COMMIT@/$commit/g" -e "s|@MAINTAINER@|$maintainer|g" -e "s/@DATE@/$(date -R -u -d "@$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)")/g" \
    "$pkg/changelog.in" | gzip -9n > "$doc/changelog.gz"
install -d "$stage/usr/share/man/man8"
sed "s/@VERSION@/$version/g" "$pkg/discovery-bridge.8" | gzip -9n > "$stage/usr/share/man/man8/discovery-bridge.8.gz"
install -D -m 0644 "$root/contrib/prometheus/discovery-bridge.rules.yml" "$stage/usr/share/discovery-bridge/prometheus/discovery-bridge.rules.yml"
install -D -m 0644 "$root/contrib/grafana/discovery-bridge.json" "$stage/usr/share/discovery-bridge/grafana/discovery-bridge.json"
chmod 0644 "$doc"/*.gz "$stage/usr/share/man/man8/discovery-bridge.8.gz"

# Shared-library dependencies (libc6, libstdc++6, ...), with the minimum versions the binary's symbols need. libcurl is
# loaded with dlopen when a provider first needs HTTP (Sources/CCurl/shim.h), so shlibdeps cannot see it: named here,
# at the oldest version with every function the shim loads (curl_multi_wakeup: 7.68).
mkdir -p "$work/shlibs/debian"
printf 'Source: discovery-bridge\n\nPackage: discovery-bridge\nArchitecture: any\n' > "$work/shlibs/debian/control"
shlibs="$(cd "$work/shlibs" && dpkg-shlibdeps -O "$stage/usr/bin/discovery-bridge" | sed -n 's/^shlibs:Depends=//p')"
case "$shlibs" in *libcurl4*) ;; *) shlibs="$shlibs, libcurl4 (>= 7.68.0)";; esac

for script in postinst prerm postrm; do install -m 0755 "$pkg/$script" "$stage/DEBIAN/$script"; done
echo /etc/discovery-bridge/config.json > "$stage/DEBIAN/conffiles"
size="$(du -s -k --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s|@MAINTAINER@|$maintainer|" -e "s/@INSTALLED_SIZE@/$size/" -e "s/@SHLIBS_DEPENDS@/$shlibs/" \
    "$pkg/control.in" > "$stage/DEBIAN/control"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

deb="$out/discovery-bridge_${version}_$arch.deb"
# DEB_COMPRESS=gzip trades size for speed (the check in `make test` uses it; the contents are the same).
dpkg-deb --root-owner-group "-Z${DEB_COMPRESS:-xz}" --build "$stage" "$deb" >/dev/null
echo "$deb"
