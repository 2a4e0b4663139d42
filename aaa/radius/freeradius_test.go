package radius_test

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/radius"
	"github.com/orchd/orchd/aaa/radius/freeradiustest"
)

// TestAgainstFreeRADIUS runs the client against the real server, with
// radtest as an independent client to compare with.
func TestAgainstFreeRADIUS(t *testing.T) {
	if err := freeradiustest.Lookup(); err != nil {
		t.Skip(err)
	}
	const secret = "fr-Secret-1"
	lo := netip.MustParseAddr("127.0.0.1")
	s, err := freeradiustest.Start(t.TempDir(), lo, netip.MustParsePrefix("127.0.0.0/8"), secret, []freeradiustest.User{
		{Name: "alice", Password: "alice-pw", AVPairs: []string{"shell:msc-roles=adminRole", "priv-lvl=15"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for _, proto := range []string{radius.PAP, radius.CHAP} {
		c, err := radius.New(radius.Config{Host: lo.String(), Port: int(s.Addr.Port()), Protocol: proto, Secret: []byte(secret), Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Authenticate(context.Background(), "alice", "alice-pw")
		if err != nil || !slices.Equal(res.Values, []string{"shell:msc-roles=adminRole", "priv-lvl=15"}) {
			t.Fatalf("%s accept: %+v, %v\n%s", proto, res, err, s.Output())
		}
		if !strings.Contains(s.Output(), "Message-Authenticator") {
			t.Logf("note: this FreeRADIUS does not sign its replies")
		}
		if _, err := c.Authenticate(context.Background(), "alice", "wrong"); !errors.Is(err, aaa.ErrRejected) {
			t.Fatalf("%s wrong password: %v", proto, err)
		}
	}
	if _, err := exec.LookPath("radtest"); err == nil {
		out, _ := exec.Command("radtest", "-t", "chap", "alice", "alice-pw", s.Addr.String(), "0", secret).CombinedOutput()
		if !strings.Contains(string(out), "Access-Accept") || !strings.Contains(string(out), "adminRole") {
			t.Errorf("radtest disagrees:\n%s", out)
		}
	}
	// A wrong secret: the server drops the request (its Message-
	// Authenticator does not verify): a timeout, so could-not-ask.
	c, _ := radius.New(radius.Config{Host: lo.String(), Port: int(s.Addr.Port()), Secret: []byte("nope"), Timeout: 300 * time.Millisecond})
	if _, err := c.Authenticate(context.Background(), "alice", "alice-pw"); err == nil || errors.Is(err, aaa.ErrRejected) {
		t.Fatalf("wrong secret: %v", err)
	}
}
