package agent_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/orchd/orchd/clishdcmd/testroot"
	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/paths"
)

// isolatedRoot initialises an orchestrator 1_1 root for an in-process
// daemon outside any testbed: SSH on a free loopback port and sync
// interfaces that cannot exist, so nothing is ever sent. extra are more
// clishd init arguments.
func isolatedRoot(t *testing.T, orchestrators string, extra ...string) (paths.Layout, *config.Config) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := append([]string{"--orchestrators", orchestrators,
		"--mgmt-address", "127.0.0.1", "--set", "ssh.port=" + strconv.Itoa(port),
		"--set", "sync.internal.interface=orchd-nx-int", "--set", "sync.external.interface=orchd-nx-ext"}, extra...)
	layout := testroot.Init(t, t.TempDir(), "1_1", args...)
	cfg, err := config.Load(layout.ConfigFile(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return layout, cfg
}
