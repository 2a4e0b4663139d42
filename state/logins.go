package state

import "time"

// Logins is the per-source-address lockout as the daemon last saw it
// (DESIGN §8.3), for hcp's "Administrator Logins" test.
type Logins struct {
	// AlarmThreshold is failed-alarm-threshold (0: alarms off).
	AlarmThreshold int `json:"alarm_threshold"`
	// Lockouts are the addresses with recent failures, locked first.
	Lockouts []Lockout `json:"lockouts"`
}

// Lockout is one source address of `show aaa lockouts`.
type Lockout struct {
	Address  string `json:"address"` // IPv4, or an IPv6 /64
	Failures int    `json:"failures"`
	// LockedUntil is set while the address is refused.
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	LastUser    string     `json:"last_user,omitempty"`
	// Alarm is set once the address reached the alarm threshold.
	Alarm bool `json:"alarm,omitempty"`
}
