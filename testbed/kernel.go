package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// kernel is what the topology code asks of the system: iproute2 commands and
// two existence checks. ipKernel is the real one; unit tests record the
// commands as text.
type kernel interface {
	// ip runs `ip args...`.
	ip(ctx context.Context, args ...string) error
	// nsExists reports whether the named network namespace exists.
	nsExists(name string) bool
	// linkExists reports whether the link exists in the root namespace.
	linkExists(name string) bool
	// nsPIDs lists the processes inside the named namespace.
	nsPIDs(name string) ([]int, error)
	// rootAddrs lists the IPv4 addresses of the root namespace by link.
	rootAddrs() (map[string][]netip.Prefix, error)
}

type ipKernel struct{}

func (ipKernel) ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// The existence checks answer "exists" when unsure, so that Down tries
// the deletion (and reports its failure) rather than skipping it.

func (ipKernel) nsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return !errors.Is(err, os.ErrNotExist)
}

func (ipKernel) linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	if err == nil {
		return true
	}
	// The net package does not export "no such interface"; ask ip.
	out, err := exec.Command("ip", "link", "show", "dev", name).CombinedOutput()
	return err == nil || !strings.Contains(string(out), "does not exist")
}

func (ipKernel) nsPIDs(name string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return nil, fmt.Errorf("listing processes in namespace %s: %w", name, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func (ipKernel) rootAddrs() (map[string][]netip.Prefix, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	m := map[string][]netip.Prefix{}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("listing addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok || !ip.Unmap().Is4() {
				continue
			}
			bits, _ := ipn.Mask.Size()
			if bits > 32 {
				bits -= 96
			}
			m[ifc.Name] = append(m[ifc.Name], netip.PrefixFrom(ip.Unmap(), bits))
		}
	}
	return m, nil
}
