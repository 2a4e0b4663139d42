package agent

import (
	"context"
	"fmt"
	"sync"
)

// liveSessions knows every open shell session of a local user, so that
// making a user inactive or deleting it ends them at once (DESIGN §8.1).
type liveSessions struct {
	mu sync.Mutex
	m  map[uint64]liveSession
}

type liveSession struct {
	user   string
	end    context.CancelFunc
	notify func(msg string)
}

func (l *liveSessions) add(id uint64, s liveSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[uint64]liveSession{}
	}
	l.m[id] = s
}

func (l *liveSessions) remove(id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, id)
}

// endUser ends every session of user, telling each why; it returns how
// many it ended.
func (l *liveSessions) endUser(user, why string) int {
	l.mu.Lock()
	var ending []liveSession
	for id, s := range l.m {
		if s.user == user {
			ending = append(ending, s)
			delete(l.m, id)
		}
	}
	l.mu.Unlock()
	for _, s := range ending {
		if s.notify != nil {
			s.notify(fmt.Sprintf("\nsession ended: %s\n", why))
		}
		s.end()
	}
	return len(ending)
}
