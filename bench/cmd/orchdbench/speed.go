package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/identity"
)

// machineSpeed prices, at this moment, the two operations that make most of
// a 64-node trust's CPU: one argon2id password verify with clishd's
// parameters, and one mutual TLS 1.3 Ed25519 handshake (X25519, both ends
// in this process). This shared VM's speed moves ±30 % from hour to hour
// (bench/RESULTS.md, issue 16), so a run's figures are read against these.
func machineSpeed() (string, error) {
	hash, err := aaa.Hash("speed-probe-password")
	if err != nil {
		return "", err
	}
	var kdf []float64
	for range 9 {
		t0 := time.Now()
		if !aaa.Verify(hash, "speed-probe-password") {
			return "", fmt.Errorf("argon2id verify refused its own hash")
		}
		kdf = append(kdf, ms(time.Since(t0)))
	}
	srv, cli, err := handshakeConfigs()
	if err != nil {
		return "", err
	}
	var hs []float64
	for range 40 {
		d, err := oneHandshake(srv, cli)
		if err != nil {
			return "", err
		}
		hs = append(hs, ms(d))
	}
	return fmt.Sprintf("argon2id verify %s, TLS handshake %s", fmtMs(dist("ms", kdf).Median), fmtMs(dist("ms", hs).Median)), nil
}

func handshakeConfigs() (srv, cli *tls.Config, err error) {
	// Certificates as clishd issues them (identity.NewCertificate), so the
	// handshake parses what a sync session parses.
	cert := func(id string) (tls.Certificate, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		oid, err := identity.ParseID(id)
		if err != nil {
			return tls.Certificate{}, err
		}
		p, err := identity.NewCertificate(oid, priv, time.Hour, time.Now())
		if err != nil {
			return tls.Certificate{}, err
		}
		blk, _ := pem.Decode(p)
		if blk == nil {
			return tls.Certificate{}, fmt.Errorf("certificate for %s: no PEM block", id)
		}
		return tls.Certificate{Certificate: [][]byte{blk.Bytes}, PrivateKey: priv}, nil
	}
	sc, err := cert("1_1")
	if err != nil {
		return nil, nil, err
	}
	cc, err := cert("1_2")
	if err != nil {
		return nil, nil, err
	}
	// Certificates are not verified: the timing is of the handshake's
	// cryptography, which is the same.
	base := tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}, SessionTicketsDisabled: true}
	srv, cli = base.Clone(), base.Clone()
	srv.Certificates, srv.ClientAuth = []tls.Certificate{sc}, tls.RequireAnyClientCert
	cli.Certificates, cli.InsecureSkipVerify = []tls.Certificate{cc}, true
	return srv, cli, nil
}

func oneHandshake(srv, cli *tls.Config) (time.Duration, error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s, c := tls.Server(a, srv), tls.Client(b, cli)
	errc := make(chan error, 1)
	t0 := time.Now()
	go func() { errc <- s.Handshake() }()
	if err := c.Handshake(); err != nil {
		return 0, fmt.Errorf("TLS handshake: %w", err)
	}
	if err := <-errc; err != nil {
		return 0, fmt.Errorf("TLS handshake (server): %w", err)
	}
	return time.Since(t0), nil
}
