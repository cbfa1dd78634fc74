#!/usr/bin/env bash
# Checks the Debian package the way an operator meets it: build it from the release binary, lintian (no errors,
# no warning the README does not explain), dpkg -i, --version, validate of the installed config, an upgrade that
# keeps an edited config, dpkg -r (config and state stay), dpkg -P (nothing of the package is left).
# Installs into this machine, so it runs under a lock and always purges what it installed, also on failure.
# Usage: deb-check.sh PATH-TO-RELEASE-discovery-bridge
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:?usage: deb-check.sh PATH-TO-RELEASE-discovery-bridge}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
as_root() { "${sudo_cmd[@]}" "$@"; }
fail() { echo "deb-check: $*" >&2; exit 1; }

# Lintian warnings that stay, each explained in README.md ("Lintian warnings"); anything else fails the check.
explained_warnings=(
)

exec 9>/tmp/discovery-bridge-deb-check.lock
flock -w 900 9 || fail "another deb-check still holds /tmp/discovery-bridge-deb-check.lock"
if dpkg-query -W -f '${Status}' discovery-bridge 2>/dev/null | grep -q "installed"; then
    fail "discovery-bridge is already installed on this machine; this check installs and purges it: dpkg -P discovery-bridge first"
fi
work="$(mktemp -d /tmp/db-deb-XXXXXX)"
installed=0
cleanup() {
    if [ "$installed" = 1 ]; then as_root dpkg -P discovery-bridge >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# gzip instead of xz: the same package, built in a fraction of the time.
deb="$(DEB_COMPRESS="${DEB_COMPRESS:-gzip}" "$root/scripts/make-deb.sh" "$bin" "$work")"
version="$(tr -d ' \n' < "$root/VERSION")"
[ "$(basename "$deb")" = "discovery-bridge_${version}_$(dpkg --print-architecture).deb" ] || fail "unexpected name $deb"
dpkg-deb -f "$deb" Depends | grep -q 'libcurl4' || fail "Depends lacks libcurl4: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -f "$deb" Recommends | grep -qx 'haproxy' || fail "Recommends is not haproxy"
echo "deb-check: built $(basename "$deb") ($(du -h "$deb" | cut -f1)); Depends: $(dpkg-deb -f "$deb" Depends)"

# lintian: errors fail; warnings must be the explained ones.
lintian_out="$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -E '^[EWIPXO]: ' || true)"
[ -z "$lintian_out" ] || echo "$lintian_out" | sed 's/^/deb-check: lintian: /'
if echo "$lintian_out" | grep -q '^E: '; then fail "lintian reports errors"; fi
while read -r tag; do
    [ -z "$tag" ] && continue
    printf '%s\n' "${explained_warnings[@]}" | grep -qx "$tag" || fail "lintian warning $tag is not explained in README.md"
    grep -q "\`$tag\`" "$root/README.md" || fail "lintian warning $tag is listed here but not explained in README.md"
done < <(echo "$lintian_out" | sed -n 's/^W: [^:]*: \([^ ]*\).*/\1/p' | sort -u)

as_root dpkg -i "$deb" > "$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "dpkg -i failed"; }
installed=1
got="$(/usr/bin/discovery-bridge --version)"
case "$got" in "discovery-bridge $version (commit "*) ;; *) fail "--version printed '$got'";; esac
echo "deb-check: installed; $got"
as_root /usr/bin/discovery-bridge validate --config /etc/discovery-bridge/config.json
as_root runuser -u discovery-bridge -- /usr/bin/discovery-bridge validate --config /etc/discovery-bridge/config.json >/dev/null \
    || fail "the discovery-bridge user cannot read its config"
getent passwd discovery-bridge | grep -q ':/var/lib/discovery-bridge:/usr/sbin/nologin$' || fail "system user: $(getent passwd discovery-bridge)"
if getent group haproxy >/dev/null; then
    id -nG discovery-bridge | tr ' ' '\n' | grep -qx haproxy || fail "discovery-bridge is not in group haproxy"
fi
[ "$(stat -c '%a %U %G' /etc/discovery-bridge/config.json)" = "640 root discovery-bridge" ] || fail "config: $(stat -c '%a %U %G' /etc/discovery-bridge/config.json)"
[ "$(stat -c '%a %U' /var/lib/discovery-bridge)" = "711 discovery-bridge" ] || fail "state folder: $(stat -c '%a %U' /var/lib/discovery-bridge)"
managed_group=discovery-bridge
if getent group haproxy >/dev/null; then managed_group=haproxy; fi
[ "$(stat -c '%a %U %G' /var/lib/discovery-bridge/haproxy)" = "2750 discovery-bridge $managed_group" ] || fail "managed config folder: $(stat -c '%a %U %G' /var/lib/discovery-bridge/haproxy)"
[ -f /usr/share/discovery-bridge/haproxy.service.d/discovery-bridge.conf ] || fail "haproxy.service drop-in example not shipped"
grep -q '/usr/bin/discovery-bridge render' /usr/share/discovery-bridge/haproxy.service.d/discovery-bridge.conf || fail "drop-in example does not use /usr/bin"
[ -L /etc/systemd/system/multi-user.target.wants/discovery-bridge.service ] || fail "unit not enabled"
grep -q '^ExecStart=/usr/bin/discovery-bridge run' /lib/systemd/system/discovery-bridge.service || fail "unit does not run /usr/bin/discovery-bridge"
if [ ! -d /run/systemd/system ]; then
    for cmdline in /proc/[0-9]*/cmdline; do
        if tr '\0' ' ' 2>/dev/null < "$cmdline" | grep -q '^/usr/bin/discovery-bridge run'; then fail "started without systemd"; fi
    done
fi
dpkg-query -W -f '${Conffiles}' discovery-bridge | grep -q '/etc/discovery-bridge/config.json' || fail "config.json is not a conffile"
man -l /usr/share/man/man8/discovery-bridge.8.gz >/dev/null 2>&1 || zcat /usr/share/man/man8/discovery-bridge.8.gz | grep -q '^.SH NAME' || fail "man page"

# An upgrade (the same package again) keeps an edited config and never asks.
as_root sed -i 's/"log_level": "info"/"log_level": "notice"/' /etc/discovery-bridge/config.json
as_root dpkg -i --force-confdef --force-confold "$deb" > "$work/upgrade.log" 2>&1 < /dev/null || { cat "$work/upgrade.log" >&2; fail "reinstall failed"; }
grep -q '"log_level": "notice"' /etc/discovery-bridge/config.json || fail "an upgrade overwrote the edited config"
echo '{"version": 1}' | as_root tee /var/lib/discovery-bridge/state.json >/dev/null

as_root dpkg -r discovery-bridge > "$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "dpkg -r failed"; }
[ ! -e /usr/bin/discovery-bridge ] || fail "binary left after dpkg -r"
[ -e /etc/discovery-bridge/config.json ] || fail "dpkg -r removed the config (it is kept until purge)"
[ -e /var/lib/discovery-bridge/state.json ] || fail "dpkg -r removed the state (it is kept until purge)"
[ "$(readlink /etc/systemd/system/discovery-bridge.service)" = /dev/null ] || fail "dpkg -r did not mask the unit"

# Installed again after a remove: the kept config is used, the unit is unmasked and enabled.
as_root dpkg -i "$deb" > "$work/reinstall.log" 2>&1 < /dev/null || { cat "$work/reinstall.log" >&2; fail "install after remove failed"; }
grep -q '"log_level": "notice"' /etc/discovery-bridge/config.json || fail "install after remove replaced the kept config"
[ ! -L /etc/systemd/system/discovery-bridge.service ] || fail "unit still masked after install following a remove"
[ -L /etc/systemd/system/multi-user.target.wants/discovery-bridge.service ] || fail "unit not enabled after install following a remove"

as_root dpkg -P discovery-bridge > "$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg -P failed"; }
installed=0
left=()
while read -r path; do
    path="/${path#./}"; path="${path%/}"
    case "$path" in /|/etc|/lib|/lib/systemd|/lib/systemd/system|/usr|/usr/bin|/usr/share|/usr/share/doc|/usr/share/man|/usr/share/man/man8) continue;; esac
    [ -e "$path" ] && left+=("$path")
done < <(dpkg-deb -c "$deb" | awk '{print $NF}')
for path in /etc/discovery-bridge /var/lib/discovery-bridge /etc/systemd/system/multi-user.target.wants/discovery-bridge.service \
            /etc/systemd/system/discovery-bridge.service /var/lib/systemd/deb-systemd-helper-enabled/discovery-bridge.service.dsh-also \
            /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/discovery-bridge.service \
            /var/lib/systemd/deb-systemd-helper-masked/discovery-bridge.service; do
    [ -e "$path" ] || [ -L "$path" ] && left+=("$path")
done
getent passwd discovery-bridge >/dev/null && left+=("user discovery-bridge")
getent group discovery-bridge >/dev/null && left+=("group discovery-bridge")
dpkg-statoverride --list | grep -q discovery-bridge && left+=("statoverride $(dpkg-statoverride --list | grep discovery-bridge)")
dpkg-query -W discovery-bridge >/dev/null 2>&1 && left+=("dpkg still knows the package")
[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
echo "deb-check: passed (install, --version, validate, upgrade keeps the config, remove, reinstall, purge leaves nothing)"
