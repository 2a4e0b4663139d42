package shell

// Terminal reports whether a person at a terminal drives the session (an
// SSH pty, or clish on a tty). Answers piped into a plain stream are not
// a person's word: commands that need one (confirming a fingerprint, as
// OpenSSH reads its host-key question from the tty) ask only here.
func (c *Ctx) Terminal() bool { return c.s.opts.Term && c.s.opts.In != nil }
