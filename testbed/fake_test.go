package testbed

import (
	"context"
	"errors"
	"net/netip"
	"strings"
)

// fakeKernel records ip commands as text and models just enough state
// (namespaces, root-namespace links) for the existence checks.
type fakeKernel struct {
	cmds   []string
	ns     map[string]bool
	links  map[string]bool
	addrs  map[string][]netip.Prefix
	failOn string // an ip command containing this fails
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{ns: map[string]bool{}, links: map[string]bool{}, addrs: map[string][]netip.Prefix{}}
}

func (f *fakeKernel) ip(_ context.Context, args ...string) error {
	line := "ip " + strings.Join(args, " ")
	f.cmds = append(f.cmds, line)
	if f.failOn != "" && strings.Contains(line, f.failOn) {
		return errors.New(line + ": fake failure")
	}
	switch {
	case len(args) == 3 && args[0] == "netns" && args[1] == "add":
		f.ns[args[2]] = true
	case len(args) == 3 && args[0] == "netns" && args[1] == "del":
		delete(f.ns, args[2])
	case len(args) >= 3 && args[0] == "link" && args[1] == "add":
		f.links[args[2]] = true
		if len(args) == 8 && args[4] == "veth" {
			f.links[args[7]] = true
		}
	case len(args) >= 5 && args[0] == "link" && args[1] == "set" && args[3] == "netns":
		delete(f.links, args[2])
	case len(args) == 3 && args[0] == "link" && args[1] == "del":
		delete(f.links, args[2])
	}
	return nil
}

func (f *fakeKernel) nsExists(name string) bool                     { return f.ns[name] }
func (f *fakeKernel) linkExists(name string) bool                   { return f.links[name] }
func (f *fakeKernel) nsPIDs(string) ([]int, error)                  { return nil, nil }
func (f *fakeKernel) rootAddrs() (map[string][]netip.Prefix, error) { return f.addrs, nil }

func (f *fakeKernel) take() string {
	s := strings.Join(f.cmds, "\n") + "\n"
	f.cmds = nil
	return s
}
