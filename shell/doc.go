// Package shell is orchd's Gaia-style command shell (clish): a declarative
// command tree, its parser with unique-prefix abbreviations, TAB completion
// and `?` help, and the session that runs it over any byte stream — an SSH
// channel or the local control socket — so every way in behaves the same.
//
// The package knows nothing of the daemon. The daemon registers commands on
// an Engine and hands each Session the few things it needs (streams, user,
// a read-only reason, prompt answers) through SessionOptions.
//
// # Command syntax
//
// A command is declared by one syntax string:
//
//	syntax   = fixed { group }
//	fixed    = keyword { keyword | param }
//	group    = "[" keyword { keyword | param } "]"
//	keyword  = [A-Za-z0-9] [A-Za-z0-9_.-]*
//	param    = "<" name ":" type [ ":" arg ] ">"
//
// The fixed part is typed in order. Optional groups follow it, in any order,
// each at most once; a group is chosen by its first keyword and then the
// rest of the group is required. Groups do not nest. A `text:rest` param
// takes the rest of the line and must end a syntax that has no groups.
//
// Parameter types (arg in parentheses):
//
//	id            orchestrator ID S_M, such as 1_2
//	idlist        IDs separated by commas without spaces: 1_2,2_1
//	idlist-all    the word all, or an idlist
//	fingerprint   SHA256:<43 base64 characters>, as ssh-keygen -lf prints
//	id-fp-list    ID=FP[,ID=FP...], each ID and fingerprint validated
//	user          [a-z_][a-z0-9_.-]*, 1-32 characters
//	role          one of the names the param's Completer returns
//	roles         role names separated by commas, each one a known role
//	number (lo-hi)  an integer, by default 0-2147483647
//	onoff         on or off
//	enum (a|b|c)  one of the listed words
//	text (rest)   one word, or "a quoted text"; with rest, the rest of the line
//
// # Matching words
//
// Keywords may be abbreviated to any unique prefix among the words possible
// at that point (`sh maes auth` is `show maestro authentication`). An exact
// keyword wins over a parameter value, and a valid parameter value wins over
// a keyword prefix, so a user named "bl" is not taken for "blocked". A quoted
// word is always a value. Values are never abbreviated. When two commands
// still match a line, the one registered first runs.
//
// # Exit codes
//
// Session.Exec and Session.RunScript return ExitOK (0), ExitFailed (1: the
// command ran and failed, or was refused, for example in a read-only
// session) or ExitUsage (2: the line did not parse; nothing ran).
package shell
