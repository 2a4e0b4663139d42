#!/bin/sh
# Builds the Debian package dist/orchd_<version>_<arch>.deb with dpkg-deb
# from the files in packaging/ (DESIGN §11). The binaries are built here as
# PIE with full RELRO (lintian's hardening checks), stripped; `make build`
# keeps its static binaries. The testbed is not packaged.
#   VERSION   package version (default: scripts/debversion.sh, from git describe)
#   DIST      output directory (default: dist)
#   DEB_COMPRESS  dpkg-deb compression (default: xz)
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
GO=${GO:-go}
VERSION=${VERSION:-$(scripts/debversion.sh)}
DIST=${DIST:-dist}
arch=$(dpkg --print-architecture)
maintainer="orchd maintainers <orchd@users.noreply.github.com>"
for tool in dpkg-deb dpkg-shlibdeps gzip cc strip; do
	command -v "$tool" >/dev/null || { echo "deb: $tool is missing (apt-get install dpkg-dev gcc; make deps does it as root)" >&2; exit 1; }
done
# Reproducible timestamps: the commit's time (dpkg-deb clamps to it).
if [ -z "$SOURCE_DATE_EPOCH" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
pkg=packaging

echo "deb: building orchd $VERSION for $arch"
CGO_ENABLED=1 $GO build -trimpath -buildmode=pie \
	-ldflags "-s -w -linkmode=external -extldflags=-Wl,-z,relro,-z,now -X github.com/orchd/orchd/clishdcmd.Version=$VERSION" \
	-o "$work/bin/" ./cmd/clishd ./cmd/clish ./cmd/orch_stat ./cmd/hcp

install -d -m 0755 "$root/DEBIAN" "$root/usr/sbin" "$root/usr/bin" "$root/etc/clishd" \
	"$root/lib/systemd/system" "$root/usr/share/man/man1" "$root/usr/share/man/man8" \
	"$root/usr/share/doc/orchd" "$root/usr/share/lintian/overrides"
# As dh_strip does: no symbols (-s -w above), no .comment or .note sections.
strip --remove-section=.comment --remove-section=.note "$work"/bin/*
install -m 0755 "$work/bin/clishd" "$root/usr/sbin/clishd"
for b in clish orch_stat hcp; do
	install -m 0755 "$work/bin/$b" "$root/usr/bin/$b"
done
install -m 0644 "$pkg/clishd.service" "$root/lib/systemd/system/clishd.service"
install -m 0644 "$pkg/clishd.yaml" "$root/etc/clishd/clishd.yaml"
for m in clish.1 clishd.8 orch_stat.8 hcp.8; do
	gzip -9n <"$pkg/man/$m" >"$root/usr/share/man/man${m##*.}/$m.gz"
done
install -m 0644 "$pkg/debian/copyright" "$root/usr/share/doc/orchd/copyright"
install -m 0644 "$pkg/debian/lintian-overrides" "$root/usr/share/lintian/overrides/orchd"
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
printf 'orchd (%s) unstable; urgency=medium\n\n  * Built from commit %s; the git history is the change log.\n\n -- %s  %s\n' \
	"$VERSION" "$commit" "$maintainer" "$date" | gzip -9n >"$root/usr/share/doc/orchd/changelog.gz"
chmod 0644 "$root/usr/share/doc/orchd/changelog.gz" "$root"/usr/share/man/man*/*.gz

# Shared-library dependencies (libc) as dpkg-shlibdeps computes them.
mkdir -p "$work/src/debian"
printf 'Source: orchd\n\nPackage: orchd\nArchitecture: any\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O "$root/usr/sbin/clishd" "$root"/usr/bin/* 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

for s in postinst prerm postrm; do
	install -m 0755 "$pkg/debian/$s" "$root/DEBIAN/$s"
done
install -m 0644 "$pkg/debian/conffiles" "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
	-e "s|@SIZE@|$size|" -e "s|@SHLIBS@|$shlibs|" "$pkg/debian/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"

mkdir -p "$DIST"
out="$DIST/orchd_${VERSION}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$root" "$out" >/dev/null
echo "deb: $out"
