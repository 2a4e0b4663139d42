// Package packaging holds the Debian packaging of orchd (the systemd unit,
// the default configuration, man pages and maintainer scripts, assembled by
// scripts/deb.sh) and its tests: the .deb is built, checked with lintian and
// systemd-analyze, installed, run under a test systemd notify socket,
// upgraded, removed and purged on this machine.
package packaging
