package agent

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/orchd/orchd/aaa/domain"
	"golang.org/x/crypto/ssh"
)

// trustUser is who the trust command logs in as on the other
// orchestrators: the administrator running it, named so that the target
// authenticates that same user whatever its default login domain is
// (DESIGN §8.5).
type trustUser struct {
	// Login is the SSH user name: always `DOMAIN\user`. A bare name would
	// go to the target's default login domain, which need not be ours:
	// "admin" could reach a RADIUS admin there. Neither a login domain
	// name nor a user name may hold a backslash, so the target splits it
	// back exactly.
	Login string
	// User is the name within its domain, for messages such as
	// `set user NAME two-factor off` (run on the target).
	User   string
	Domain string // "Local" for local users
}

// String names the user as the messages do: "user admin of login domain
// Local".
func (u trustUser) String() string {
	return fmt.Sprintf("user %s of login domain %s", u.User, u.Domain)
}

// trustLoginFor picks the trust login for the session of user: a local
// user (dom "") or a user of login domain dom, whose session is named
// "user@DOMAIN" (agent/extauth.go).
func trustLoginFor(user, dom string) (trustUser, error) {
	if user == "" {
		return trustUser{}, errors.New("trust logs in to the other orchestrators as the administrator running it, and this session has no user name")
	}
	if dom == "" || strings.EqualFold(dom, domain.Local) {
		return trustUser{Login: domain.Local + `\` + user, User: user, Domain: domain.Local}, nil
	}
	local, ok := strings.CutSuffix(user, "@"+dom)
	if !ok || local == "" || strings.Contains(local, `\`) || strings.Contains(dom, `\`) {
		return trustUser{}, fmt.Errorf("cannot name user %s of login domain %s to the other orchestrators: "+
			"run trust from a local administrator's session", user, dom)
	}
	return trustUser{Login: dom + `\` + local, User: local, Domain: dom}, nil
}

// trustLoginRefused explains a trust login the target refused, naming the
// user and the login domain; banner is the target's own reason, if it
// sent one (an inactive domain, servers that could not be asked).
func trustLoginRefused(u trustUser, banner string) string {
	switch {
	case banner != "":
		return fmt.Sprintf("login as %s refused: %s", u, banner)
	case u.Domain == domain.Local:
		return fmt.Sprintf("wrong administrator password: login as %s refused", u)
	}
	return fmt.Sprintf("login as %s refused: wrong password at the servers of login domain %s, "+
		"or login domain %s is not configured there (trust logs in through the login domain of this session)",
		u, u.Domain, u.Domain)
}

// errPasswordRefused ends a trust login whose password the target refused.
var errPasswordRefused = errors.New("the target refused the password")

// trustClient is the client side of one trust login.
type trustClient struct {
	sent bool // the password was sent
	// refusal is the target's reason for refusing the password: a banner
	// that arrives after it (sshserver sends a refusal's UserMessage as
	// one); the banner before it is the target's greeting.
	refusal string
}

// config logs in as who with password; kbd answers the keyboard-interactive
// questions that follow a password's partial success (verification codes).
// The SSH handshake calls every callback from one goroutine, in order.
func (tc *trustClient) config(who trustUser, password string, kbd ssh.AuthMethod, hostKey ssh.HostKeyCallback) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              who.Login,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		HostKeyCallback:   hostKey,
		BannerCallback: func(msg string) error {
			if tc.sent {
				tc.refusal = strings.TrimSpace(msg)
			}
			return nil
		},
		Auth: []ssh.AuthMethod{
			ssh.PasswordCallback(func() (string, error) { tc.sent = true; return password, nil }),
			kbd,
		},
		// A refused password is final. Going on to keyboard-interactive
		// would send it again and the target would count one wrong
		// password as two failed logins of this orchestrator's address
		// (DESIGN §8.3): two wrong trust passwords would lock it out.
		AuthCallback: func(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			if slices.Contains(ctx.TriedMethods, "password") {
				return nil, errPasswordRefused
			}
			return nil, nil
		},
	}
}
