package healthcheck

import "fmt"

// Diff says what changed from prev to last, one line per change: tests
// added or not run, status changes, and problem findings (not PASSED) that
// appeared, were resolved or changed wording. PASSED findings are left out:
// they carry volatile details (ages) and a status change already says it.
func Diff(prev, last *Report) []string {
	var out []string
	before := map[string]TestReport{}
	for _, t := range prev.Tests {
		before[t.Name] = t
	}
	seen := map[string]bool{}
	for _, t := range last.Tests {
		seen[t.Name] = true
		p, ok := before[t.Name]
		if !ok {
			out = append(out, fmt.Sprintf("%s: not in the previous run, now %s", t.Name, t.Status))
			continue
		}
		if p.Status != t.Status {
			out = append(out, fmt.Sprintf("%s: status changed from %s to %s", t.Name, p.Status, t.Status))
		}
		for _, l := range diffFindings(problems(p.Findings), problems(t.Findings)) {
			out = append(out, t.Name+": "+l)
		}
	}
	for _, t := range prev.Tests {
		if !seen[t.Name] {
			out = append(out, fmt.Sprintf("%s: not run this time (was %s)", t.Name, t.Status))
		}
	}
	return out
}

func problems(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Severity != Passed {
			out = append(out, f)
		}
	}
	return out
}

func diffFindings(old, cur []Finding) []string {
	gone := map[Finding]int{}
	for _, f := range old {
		gone[key(f)]++
	}
	var added []Finding
	for _, f := range cur {
		if gone[key(f)] > 0 {
			gone[key(f)]--
		} else {
			added = append(added, f)
		}
	}
	var removed []Finding
	for _, f := range old {
		if gone[key(f)] > 0 {
			gone[key(f)]--
			removed = append(removed, f)
		}
	}
	var out []string
	for _, a := range added {
		i := sameSubject(removed, a)
		if i < 0 {
			out = append(out, "new finding "+short(a))
			continue
		}
		out = append(out, fmt.Sprintf("finding changed: %s (was: %s)", short(a), removed[i].Text))
		removed = append(removed[:i], removed[i+1:]...)
	}
	for _, r := range removed {
		out = append(out, "resolved "+short(r))
	}
	return out
}

// key is what makes two findings the same; the remedy follows from it.
func key(f Finding) Finding { return Finding{Severity: f.Severity, Subject: f.Subject, Text: f.Text} }

func sameSubject(fs []Finding, f Finding) int {
	for i, g := range fs {
		if g.Severity == f.Severity && g.Subject == f.Subject {
			return i
		}
	}
	return -1
}

func short(f Finding) string { return fmt.Sprintf("[%s] %s: %s", f.Severity, f.Subject, f.Text) }
