#!/bin/bash
# make package: the framework as a Debian package (kiva_VERSION_ARCH.deb in BUILD_DIR): what
# `make install PREFIX=/usr` installs (library, headers, tools, kiva-new and its template,
# the framework's SQL, deploy scripts, the CMake package), with the build tools and
# libraries an application needs as dependencies. Checked by lintian: no error allowed.
#
#   framework/packaging/build-deb.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: build-deb.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
version=$(cat "$build/framework/VERSION")
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/kiva

DESTDIR=$pkg cmake --install "$build" --prefix /usr >/dev/null
# Debian's places: docs and copyright under /usr/share/doc/kiva, a man page per command.
doc=$pkg/usr/share/doc/kiva
install -d "$doc"
install -m 0644 "$root/framework/packaging/copyright" "$doc/copyright"
gzip -9n -c "$root/CHANGELOG.md" >"$doc/CHANGELOG.md.gz"
# The version has one source (CMakeLists.txt's project()): the Debian changelog says it.
printf 'kiva (%s) unstable; urgency=medium\n\n  * Release %s: see /usr/share/doc/kiva/CHANGELOG.md.gz.\n\n -- kiva developers <kiva@kiva.invalid>  %s\n' \
  "$version" "$version" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}")" |
  gzip -9n >"$doc/changelog.gz"
# Binaries without their debug sections (the package is not a debug build); no rpath.
for b in "$pkg"/usr/bin/kiva-querygen "$pkg"/usr/bin/kiva-admin "$pkg"/usr/bin/kiva-pass2csv; do
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$b"
done
strip --strip-debug "$pkg/usr/lib/libkiva.a"
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg/usr/share" "$pkg/usr/include" "$pkg/usr/lib" -type f ! -perm /111 -exec chmod 0644 {} +

install -d "$pkg/DEBIAN" "$stage/debian"
# The shared libraries the tools link (dpkg-shlibdeps reads a control file of its own).
printf 'Source: kiva\n\nPackage: kiva\nArchitecture: any\n' >"$stage/debian/control"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O "$pkg"/usr/bin/kiva-admin "$pkg"/usr/bin/kiva-querygen \
  "$pkg"/usr/bin/kiva-pass2csv | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no dependency" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: kiva
Version: $version
Architecture: $arch
Maintainer: kiva developers <kiva@kiva.invalid>
Installed-Size: $size
Section: libdevel
Priority: optional
Depends: $shlibs, g++, make, cmake, pkg-config, libboost-test-dev, libfcgi-dev, libpq-dev, rapidjson-dev, libssl-dev, libcrypt-dev, libargon2-dev, libhiredis-dev, postgresql, nginx, curl, python3
Homepage: https://kiva.invalid/
Description: REST back-end framework in C++ for FastCGI and PostgreSQL
 kiva is a library and its tools for building JSON REST APIs that run as
 FastCGI workers behind nginx or Apache, with PostgreSQL behind them: routes
 with typed parameters and authorization declared on one line, named SQL
 queries checked against the schema at build time, one transaction per
 request, metrics and health, deploy scripts for several hosts.
 .
 kiva-new makes a new project that builds against this package.
CONTROL
out=$build/kiva_${version}_${arch}.deb
fakeroot dpkg-deb --build -Zxz "$pkg" "$out" >/dev/null
echo "$out"
