package main

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Dist summarises samples in milliseconds (or any unit: Unit says).
type Dist struct {
	N       int       `json:"n"`
	Unit    string    `json:"unit"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	P99     float64   `json:"p99,omitempty"`
	Samples []float64 `json:"samples,omitempty"`
}

func dist(unit string, xs []float64) Dist {
	d := Dist{N: len(xs), Unit: unit, Samples: xs}
	if len(xs) == 0 {
		return d
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	d.Min, d.Max = s[0], s[len(s)-1]
	d.Median = quantile(s, 0.5)
	d.P99 = quantile(s, 0.99)
	return d
}

// quantile of sorted s, linear interpolation between closest ranks.
func quantile(s []float64, q float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtMs prints a millisecond figure with sensible precision.
func fmtMs(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// String is "median X (min A, max B, n N)".
func (d Dist) String() string {
	if d.N == 0 {
		return "no samples"
	}
	if d.Unit != "ms" {
		return fmt.Sprintf("median %.3g %s (min %.3g, max %.3g, n=%d)", d.Median, d.Unit, d.Min, d.Max, d.N)
	}
	return fmt.Sprintf("median %s (min %s, max %s, n=%d)", fmtMs(d.Median), fmtMs(d.Min), fmtMs(d.Max), d.N)
}
