package argon2

import (
	"bytes"
	"fmt"
	"testing"

	upstream "golang.org/x/crypto/argon2"
)

// The fork must derive exactly what upstream derives: stored hashes were
// made with it.
func TestMatchesUpstream(t *testing.T) {
	cases := []struct {
		time, memory uint32
		threads      uint8
		keyLen       uint32
	}{
		{1, 8, 1, 32},         // below the minimum: rounded up
		{3, 64, 1, 32},        // small
		{1, 1000, 3, 16},      // not a multiple of 4 x lanes
		{2, 4096, 4, 64},      // 4 MiB, several lanes
		{3, 12 * 1024, 1, 32}, // the login parameters (aaa.DefaultParams)
		{1, 3*1024 + 7, 2, 32},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("t=%d,m=%d,p=%d,len=%d", c.time, c.memory, c.threads, c.keyLen), func(t *testing.T) {
			pw, salt := []byte("correct horse"), []byte("0123456789abcdef")
			got := IDKey(pw, salt, c.time, c.memory, c.threads, c.keyLen)
			want := upstream.IDKey(pw, salt, c.time, c.memory, c.threads, c.keyLen)
			if !bytes.Equal(got, want) {
				t.Fatalf("IDKey = %x, upstream %x", got, want)
			}
			if got, want := Key(pw, salt, c.time, c.memory, c.threads, c.keyLen), upstream.Key(pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
				t.Fatalf("Key = %x, upstream %x", got, want)
			}
		})
	}
}

// FuzzIDKey compares the fork with upstream on small parameters.
func FuzzIDKey(f *testing.F) {
	f.Add([]byte("pw"), []byte("saltsalt"), uint8(1), uint16(8), uint8(1), uint8(32))
	f.Add([]byte(""), []byte(""), uint8(3), uint16(300), uint8(3), uint8(4))
	f.Add([]byte("\x00\xff"), []byte("0123456789abcdef"), uint8(2), uint16(1024), uint8(4), uint8(64))
	f.Fuzz(func(t *testing.T, pw, salt []byte, tm uint8, mem uint16, threads, keyLen uint8) {
		time, memory := uint32(tm%4)+1, uint32(mem%2048)
		p, n := threads%4+1, uint32(keyLen)%64+4
		got := IDKey(pw, salt, time, memory, p, n)
		if want := upstream.IDKey(pw, salt, time, memory, p, n); !bytes.Equal(got, want) {
			t.Fatalf("IDKey(t=%d m=%d p=%d len=%d) = %x, upstream %x", time, memory, p, n, got, want)
		}
	})
}

// The login parameters, fork against upstream. A single derivation in a
// loop reuses upstream's heap memory, so this understates the fork's gain
// in a daemon, whose first login after a pause maps fresh memory.
func BenchmarkLogin(b *testing.B) {
	pw, salt := []byte("correct horse"), []byte("0123456789abcdef")
	b.Run("fork", func(b *testing.B) {
		for b.Loop() {
			IDKey(pw, salt, 3, 12*1024, 1, 32)
		}
	})
	b.Run("upstream", func(b *testing.B) {
		for b.Loop() {
			upstream.IDKey(pw, salt, 3, 12*1024, 1, 32)
		}
	})
}
