#!/usr/bin/env bash
# Prints the path of a PgBouncer that can keep prepared statements (1.21+), for the
# ?pooler=pgbouncer-prepared tests (tests/pgbouncer_prepared.py; PGBOUNCER_PREPARED).
# Debian 12 ships PgBouncer 1.18, which cannot; this builds Debian 13's PgBouncer
# 1.24.1 (its source package, Debian's patches applied) from deb.debian.org, once per
# machine: the binary is kept under ${XDG_CACHE_HOME:-~/.cache}/pytake/. Fails (exit
# status, reason on stderr) when it cannot; .ci/run then says the tests will be skipped.
set -euo pipefail

VERSION=1.24.1
DEBIAN_REVISION=1+deb13u2
POOL=http://deb.debian.org/debian/pool/main/p/pgbouncer
ORIG=pgbouncer_${VERSION}.orig.tar.gz
ORIG_SHA256=da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0
DEBIAN=pgbouncer_${VERSION}-${DEBIAN_REVISION}.debian.tar.xz
DEBIAN_SHA256=2325bcaa2e71919d399b9e5aef5b94ff988fc1f1d296908c3937b682b7be5cbb

DEST="${XDG_CACHE_HOME:-$HOME/.cache}/pytake/pgbouncer-${VERSION}-${DEBIAN_REVISION}"
if [ -x "$DEST/pgbouncer" ] && "$DEST/pgbouncer" --version >/dev/null 2>&1; then
  echo "$DEST/pgbouncer"
  exit 0
fi

# its build needs libevent's and OpenSSL's headers (Debian packages)
if ! pkg-config --exists libevent openssl 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libevent-dev libssl-dev pkg-config; } >&2
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
curl -fsS --retry 3 -o "$ORIG" "$POOL/$ORIG"
curl -fsS --retry 3 -o "$DEBIAN" "$POOL/${DEBIAN//+/%2B}"
printf '%s  %s\n%s  %s\n' "$ORIG_SHA256" "$ORIG" "$DEBIAN_SHA256" "$DEBIAN" | sha256sum -c --quiet - >&2
tar xzf "$ORIG"
cd "pgbouncer-$VERSION"
tar xJf "../$DEBIAN"
if [ -f debian/patches/series ]; then
  grep -v '^\s*#' debian/patches/series | while read -r patch _; do
    [ -n "$patch" ] && patch -s -p1 < "debian/patches/$patch" >&2
  done
fi
./configure --quiet --without-cares --without-pam --without-systemd >&2
make -s -j"$(nproc)" pgbouncer >&2
mkdir -p "$DEST"
cp pgbouncer "$DEST/pgbouncer.new"
mv "$DEST/pgbouncer.new" "$DEST/pgbouncer"
chmod 755 "$DEST" "$DEST/pgbouncer"
echo "$DEST/pgbouncer"
