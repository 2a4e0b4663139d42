package config

import "testing"

func TestFileID(t *testing.T) {
	for _, c := range []struct {
		doc, want string
		err       bool
	}{
		{`id: ""`, "", false},
		{"", "", false},
		{"id:\n", "", false},
		{"id: 1_2\nssh:\n  port: 22\n", "1_2", false},
		{`id: "2_1"`, "2_1", false},
		{"id: [1, 2]", "", true},
		{"id: {a: b}", "", true},
		{"- a", "", true},
		{"id: \"unterminated", "", true},
	} {
		got, err := FileID([]byte(c.doc))
		if (err != nil) != c.err || got != c.want {
			t.Errorf("FileID(%q) = %q, %v; want %q, error %v", c.doc, got, err, c.want, c.err)
		}
	}
}

func FuzzFileID(f *testing.F) {
	for _, s := range []string{`id: ""`, "id: 1_2\n", "id: [1]", "topology:\n  orchestrators: 1_1\n", "- x", "id: &a x\nb: *a", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		id, err := FileID(doc)
		if err != nil && id != "" {
			t.Fatalf("error %v with id %q", err, id)
		}
		if err == nil {
			if _, perr := parseYAML(doc); perr != nil {
				t.Fatalf("FileID accepted a document parseYAML refuses: %v", perr)
			}
		}
	})
}
