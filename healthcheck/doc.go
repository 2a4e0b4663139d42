// Package healthcheck owns hcp's health tests: a registry of named tests
// (modelled on Check Point's HealthCheck Point) that judge the shared state
// file run/clishd/state.json, the reports they produce and where those
// reports are kept. It reads the state-file schema and nothing else of the
// daemon, so it works when clishd is stuck or down.
//
// Every test returns a Result: a Status (PASSED, WARNING, FAILED, ERROR) and
// Findings. A finding's Severity uses the same values; the test's status is
// its worst finding. ERROR means the test could not run (state file missing,
// unreadable or stale). Every finding that is not PASSED carries a concrete
// Remedy: the command to run or the thing to check.
//
// The tests, in registry order: "Daemon" (the only one that judges a missing
// or stale state file, as FAILED; the others then report ERROR), "Maestro
// Orchestrator Authentication", "Sync Interfaces", "Certificates",
// "Configuration Saved" and "Administrator Logins" (FAILED when a source
// address reached the failed-login alarm threshold, WARNING while one is
// locked out; from the state file's "logins" key). A daemon that does not report its config state
// passes "Configuration Saved" with a finding saying so: hcp cannot tell, and
// a WARNING nobody can clear would teach admins to ignore warnings.
//
// A report (hcp --json, and var/log/hcp/last/report.json) is:
//
//	{"generated_at": "2026-11-23T12:00:00Z",
//	 "orchestrator": "1_1",
//	 "tests": [{"name": "Maestro Orchestrator Authentication",
//	            "status": "PASSED"|"WARNING"|"FAILED"|"ERROR",
//	            "findings": [{"severity": "PASSED"|"WARNING"|"FAILED"|"ERROR",
//	                          "subject": "1_2", "text": "...", "remedy": "..."}]}],
//	 "summary": {"passed": 3, "warning": 1, "failed": 1, "error": 0}}
//
// "orchestrator" is "" when the state file could not be read; "findings" is
// never null; "remedy" is "" only for PASSED findings. The summary counts
// tests, not findings. Keys are only ever added.
//
// Reports are kept under var/log/hcp/: last/report.json and last/report.txt
// (the text form, ending with what changed since the run before), and the
// run before in previous/. Each file is replaced atomically.
package healthcheck
