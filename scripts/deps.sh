#!/bin/sh
# Installs the Debian packages orchd's tests and testbed need, when missing.
# Only as root; otherwise it says what is missing and carries on (the tests
# that need them skip with a message).
set -e
need=""
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v ssh >/dev/null 2>&1 || need="$need openssh-client"
command -v ssh-keygen >/dev/null 2>&1 || need="$need openssh-client"
command -v sshpass >/dev/null 2>&1 || need="$need sshpass"
command -v bash >/dev/null 2>&1 || need="$need bash"
# External authentication tests run real servers (DESIGN §8.5).
[ -x /usr/sbin/freeradius ] || need="$need freeradius"
command -v radtest >/dev/null 2>&1 || need="$need freeradius-utils"
[ -x /usr/sbin/slapd ] || need="$need slapd"
command -v ldapwhoami >/dev/null 2>&1 || need="$need ldap-utils"
# make deb and the package test: dpkg-deb/dpkg-shlibdeps, cgo for PIE
# binaries, lintian, systemd-analyze, adduser (the package's dependency).
command -v dpkg-shlibdeps >/dev/null 2>&1 || need="$need dpkg-dev"
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v lintian >/dev/null 2>&1 || need="$need lintian"
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v addgroup >/dev/null 2>&1 || need="$need adduser"
/usr/bin/python3 -c "import aiosmtpd" >/dev/null 2>&1 || need="$need python3-aiosmtpd"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$need (run make as root to install them)" >&2
	exit 0
fi
echo "deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $need >/dev/null
