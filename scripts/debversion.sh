#!/bin/sh
# Prints the Debian version of the source tree, from `git describe`:
#   tag v1.2.3 on HEAD          1.2.3
#   4 commits after v1.2.3      1.2.3+4.gabcdef123456
#   no tag at all               0.0.0+57.gabcdef123456  (57 = commits, so versions rise)
#   uncommitted changes         ... .dirty appended
#   not a git checkout          0.0.0
# A native package version: digits first, then only [A-Za-z0-9.+~]; a
# pre-release tag (v1.3.0-rc1) becomes 1.3.0~rc1, which sorts before 1.3.0.
set -e
cd "$(dirname "$0")/.."
if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	echo 0.0.0
	exit 0
fi
dirty=""
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	dirty=".dirty"
fi
hash=$(git rev-parse --short=12 HEAD)
if desc=$(git describe --tags --match 'v[0-9]*' --long 2>/dev/null); then
	# v1.2.3-4-gabcdef: the tag, the commits since, the hash.
	rest=${desc%-g*}
	n=${rest##*-}
	tag=${rest%-*}
	tag=$(printf '%s' "${tag#v}" | sed -e 's/-/~/' -e 's/[^A-Za-z0-9.+~]/./g')
	if [ "$n" = 0 ] && [ -z "$dirty" ]; then
		echo "$tag"
	else
		echo "$tag+$n.g$hash$dirty"
	fi
	exit 0
fi
echo "0.0.0+$(git rev-list --count HEAD).g$hash$dirty"
