// Command fakeclishd stands in for clishd in the testbed's own tests: `init`
// writes a config as clishd would, `run` writes a state file and waits for
// SIGTERM, and `probe ADDR` sends one ICMP echo (so tests need no ping).
//
// Environment knobs, each naming a node ID: FAKE_CLISHD_HANG_INIT makes
// init write ROOT/init-hanging and wait until its parent dies;
// FAKE_CLISHD_FAIL_INIT makes init fail; FAKE_CLISHD_FAIL_RUN makes run exit
// at once with status 3.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/paths"
	"github.com/spf13/pflag"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fakeclishd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("expected init, run or probe")
	}
	switch args[0] {
	case "init":
		return initCmd(args[1:])
	case "run":
		return runCmd(args[1:])
	case "probe":
		if len(args) != 2 {
			return errors.New("usage: probe ADDR")
		}
		return probe(args[1])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func initCmd(args []string) error {
	fs := pflag.NewFlagSet("init", pflag.ContinueOnError)
	root := fs.String("root", "", "")
	id := fs.String("id", "", "")
	orchs := fs.String("orchestrators", "", "")
	mgmt := fs.String("mgmt-address", "", "")
	pwStdin := fs.Bool("admin-password-stdin", false, "")
	sets := fs.StringArray("set", nil, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *id {
	case os.Getenv("FAKE_CLISHD_FAIL_INIT"):
		return fmt.Errorf("init of %s fails on purpose", *id)
	case os.Getenv("FAKE_CLISHD_HANG_INIT"):
		parent := os.Getppid()
		if err := os.MkdirAll(*root, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*root, "init-hanging"), nil, 0o644); err != nil {
			return err
		}
		for os.Getppid() == parent {
			time.Sleep(20 * time.Millisecond)
		}
		return errors.New("parent died")
	}
	doc, err := config.Render(config.InitValues{ID: *id, Orchestrators: *orchs, MgmtAddress: *mgmt})
	if err != nil {
		return err
	}
	for _, kv := range *sets {
		k, v, _ := strings.Cut(kv, "=")
		if doc, err = config.SetKey(doc, k, v); err != nil {
			return err
		}
	}
	l := paths.Layout{Root: *root}
	if *pwStdin {
		pw, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading password: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(l.EtcDir(), "admin-password"), []byte(pw), 0o600); err != nil {
			return err
		}
	}
	return atomicfile.WriteFile(l.ConfigFile(), doc, 0o644)
}

func runCmd(args []string) error {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	root := fs.String("root", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	l := paths.Layout{Root: *root}
	cfg, err := config.Load(l.ConfigFile(), nil)
	if err != nil {
		return err
	}
	if cfg.ID.String() == os.Getenv("FAKE_CLISHD_FAIL_RUN") {
		fmt.Println("run fails on purpose")
		os.Exit(3)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	state := fmt.Sprintf("{\"pid\": %d, \"id\": %q}\n", os.Getpid(), cfg.ID)
	if err := atomicfile.WriteFileVolatile(l.StateFile(), []byte(state), 0o644); err != nil {
		return err
	}
	fmt.Printf("fake clishd %s running, pid %d\n", cfg.ID, os.Getpid())
	<-sig
	fmt.Println("fake clishd: SIGTERM, exiting")
	return nil
}

// probe sends one ICMP echo request to addr and waits 1 s for the reply.
func probe(addr string) error {
	dst, err := netip.ParseAddr(addr)
	if err != nil {
		return err
	}
	c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'o', 'r', 'c', 'h'}
	var sum uint32
	for i := 0; i < len(msg); i += 2 {
		sum += uint32(msg[i])<<8 | uint32(msg[i+1])
	}
	sum = (sum >> 16) + (sum & 0xffff)
	sum += sum >> 16
	msg[2], msg[3] = byte(^sum>>8), byte(^sum)
	if _, err := c.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("no echo reply from %s: %w", addr, err)
		}
		ip, _ := from.(*net.IPAddr)
		if n >= 8 && buf[0] == 0 && int(buf[4])<<8|int(buf[5]) == id && ip != nil && ip.IP.Equal(dst.AsSlice()) {
			return nil
		}
	}
}
