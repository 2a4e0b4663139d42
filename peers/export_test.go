package peers

import "github.com/orchd/orchd/identity"

// inject queues a raw frame on the session with id, for tests that need a
// peer to misbehave.
func (m *Manager) inject(id identity.ID, frame []byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[id]
	if p == nil || p.sess == nil {
		return false
	}
	return p.sess.send(frame) != nil
}
