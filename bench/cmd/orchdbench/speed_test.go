package main

import "testing"

// TestHandshakePrice: the price's handshake is a real mutual one with
// clishd's certificates (a broken config would price nothing).
func TestHandshakePrice(t *testing.T) {
	srv, cli, err := handshakeConfigs()
	if err != nil {
		t.Fatal(err)
	}
	d, err := oneHandshake(srv, cli)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("handshake took %v", d)
	}
	if len(srv.Certificates) != 1 || len(cli.Certificates) != 1 {
		t.Errorf("certificates: server %d, client %d, want one each", len(srv.Certificates), len(cli.Certificates))
	}
}
