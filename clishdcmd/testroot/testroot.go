// Package testroot initialises an orchestrator root for tests, through the
// real `clishd init` code path.
package testroot

import (
	"bytes"
	"strings"
	"testing"

	"github.com/orchd/orchd/clishdcmd"
	"github.com/orchd/orchd/paths"
)

// Init runs `clishd init --root root --id id args...` and returns the layout.
func Init(t testing.TB, root, id string, args ...string) paths.Layout {
	t.Helper()
	var out bytes.Buffer
	if err := clishdcmd.Main(append([]string{"init", "--root", root, "--id", id}, args...), strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("clishd init: %v\n%s", err, out.String())
	}
	return paths.Layout{Root: root}
}
