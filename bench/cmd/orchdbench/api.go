package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// apiPhase brings up a 1x2 testbed and measures the API of its first node.
func apiPhase(ctx context.Context, o runOpts, res *Results) error {
	keys := []string{"api-state-p50", "api-state-rps"}
	res.skip(keys[0], "management API GET /api/v1/state, p50 with keep-alive", "< 5 ms", "the api phase stopped before reaching it")
	res.skip(keys[1], "management API GET /api/v1/state, requests per CPU-second of clishd", "≥ 500 req/s on one core", "the api phase stopped before reaching it")
	b, err := upBed(ctx, o.binDir, 1, 2)
	if err != nil {
		failItem(res, firstLine(err.Error()), keys...)
		return err
	}
	defer b.down()
	if err := apiItems(ctx, o, res, b); err != nil {
		failItem(res, firstLine(err.Error()), keys...)
		return err
	}
	return nil
}

// apiItems measures the trusted manager API of node 1_1 (DESIGN §7: GET
// /api/v1/state p50 < 5 ms with keep-alive, 500 requests/s on one core)
// side by side with a floor: a bare Go HTTPS server in this process
// serving the same bytes with the same TLS settings.
func apiItems(ctx context.Context, o runOpts, res *Results, b *bed) error {
	mgr, err := benchClientCert()
	if err != nil {
		return err
	}
	id := b.ids[0]
	tp := sha1.Sum(mgr.Leaf.Raw)
	if _, errOut, err := b.exec(ctx, id, "", "clish", "-c", fmt.Sprintf("set management trusted-manager thumbprint %x", tp)); err != nil {
		return fmt.Errorf("trusting the bench manager: %v: %s", err, errOut)
	}
	n, err := b.Node(id)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("https://%s:8443/api/v1/state", n.Mgmt.Addr())
	pid := b.pids()[id]

	// The floor serves the state document the daemon just served.
	cl := apiClient(mgr)
	body, err := fetch(cl, url)
	if err != nil {
		return fmt.Errorf("first GET %s: %w", url, err)
	}
	floorURL, stop, err := floorServer(body)
	if err != nil {
		return err
	}
	defer stop()

	reqs := o.trials(500, 100)
	lat := func(u string) (Dist, error) {
		c := apiClient(mgr)
		if _, err := fetch(c, u); err != nil { // warm: handshake, keep-alive
			return Dist{}, err
		}
		var xs []float64
		for i := 0; i < reqs && ctx.Err() == nil; i++ {
			t0 := time.Now()
			if _, err := fetch(c, u); err != nil {
				return Dist{}, err
			}
			xs = append(xs, ms(time.Since(t0)))
		}
		return dist("ms", xs), nil
	}
	ours, err := lat(url)
	if err != nil {
		return err
	}
	floor, err := lat(floorURL)
	if err != nil {
		return err
	}
	res.add(&Item{Key: "api-state-p50", Name: "management API GET /api/v1/state, p50 with keep-alive (1_1, 1 peer)",
		Ours: fmtMs(ours.Median), Comparison: "bare Go HTTPS server, same bytes: " + fmtMs(floor.Median),
		Ratio: ratio(ours.Median, floor.Median), Target: "< 5 ms", Verdict: verdict(ours.Median < 5),
		Data: map[string]any{"ours": ours.Summary(), "floor": floor.Summary()}})

	// Throughput: 8 keep-alive clients for 5 s; the daemon's CPU seconds
	// turn it into requests per second of one core.
	dur := 5 * time.Second
	if o.quick {
		dur = 2 * time.Second
	}
	before, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	done, failed := throughput(ctx, mgr, url, 8, dur)
	after, _ := cpuTicks(pid)
	cpu := float64(after-before) / clkTck
	perCore := 0.0
	if cpu > 0 {
		perCore = float64(done) / cpu
	}
	res.add(&Item{Key: "api-state-rps", Name: "management API GET /api/v1/state, requests per CPU-second of clishd (8 keep-alive clients, every request audited)",
		Ours:   fmt.Sprintf("%.0f req/s per core (%d requests in %v, %.2f CPU-s, %d failed)", perCore, done, dur, cpu, failed),
		Target: "≥ 500 req/s on one core", Verdict: verdict(perCore >= 500 && failed == 0)})
	return nil
}

func (d Dist) Summary() string {
	return fmt.Sprintf("n=%d median %.2f min %.2f p99 %.2f max %.2f %s", d.N, d.Median, d.Min, d.P99, d.Max, d.Unit)
}

func benchClientCert() (tls.Certificate, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "orchdbench manager"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}, nil
}

func apiClient(cert tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 16,
	}}
}

func fetch(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	return b, nil
}

func throughput(ctx context.Context, cert tls.Certificate, url string, clients int, d time.Duration) (done, failed int64) {
	var ok, bad atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := apiClient(cert)
			for time.Now().Before(end) && ctx.Err() == nil {
				if _, err := fetch(c, url); err != nil {
					bad.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return ok.Load(), bad.Load()
}

// floorServer serves body over HTTPS on loopback with the daemon's TLS
// choices (a self-signed certificate, a client certificate asked).
func floorServer(body []byte) (string, func(), error) {
	cert, err := benchClientCert()
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}}
	go srv.ServeTLS(l, "", "")
	return "https://" + l.Addr().String() + "/", func() { srv.Close() }, nil
}
