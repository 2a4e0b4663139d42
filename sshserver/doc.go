// Package sshserver is a small SSH server over golang.org/x/crypto/ssh, as
// simple to use as net/http: fill in a Server with the persisted host key, an
// Authenticator and a Handler, then call Serve or ListenAndServe.
//
// It owns the SSH protocol side of administrator access: password and
// keyboard-interactive login delegated to the AAA layer, session channels
// (pty, window changes, environment, shell, exec and subsystem requests) and
// exit statuses. It never generates a host key (the key is the
// orchestrator's identity), never accepts a login without an Authenticator,
// and refuses port forwarding and every channel type but "session".
//
// Output is passed through untouched: with a pty, "\n" is not translated to
// "\r\n". A handler that writes to a terminal without a line editor that does
// it (the clish shell's readline does) must write "\r\n" itself.
package sshserver
