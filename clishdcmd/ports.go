package clishdcmd

import (
	"fmt"

	"github.com/orchd/orchd/agent"
	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/syncport"
	"github.com/sirupsen/logrus"
)

// newPortWatcher returns the netlink watcher of the two sync ports, in the
// namespace clishd runs in.
func newPortWatcher(cfg *config.Config, log *logrus.Logger) (agent.PortWatcher, error) {
	var ports []syncport.Port
	for _, p := range []config.SyncPort{cfg.Internal, cfg.External} {
		addr, err := cfg.PortAddress(p)
		if err != nil {
			return nil, fmt.Errorf("sync.%s: %w", p.Role, err)
		}
		ports = append(ports, syncport.Port{Role: p.Role, Interface: p.Interface, Address: addr})
	}
	k, err := syncport.NewNetlinkKernel()
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	logf := func(format string, args ...any) { log.WithField("part", "syncport").Infof(format, args...) }
	return syncport.New(ports, k, logf), nil
}
