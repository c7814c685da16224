package raft

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Mutual TLS on the Raft transport (DESIGN.md, "Securing the transport").
// With TLS files configured, every connection, accepted or dialled, begins
// with a TLS 1.3 handshake in which both ends present a certificate that
// the cluster's CA signed and check the other's: an accepted connection
// whose peer has no such certificate is closed before any of its bytes is
// read as a Raft frame. The files are read once, when the Host opens: a
// renewed certificate takes effect when the process restarts.

// TLSFiles names the PEM files of the Raft transport's mutual TLS: the CA
// that signs every storenode's certificate, and this storenode's
// certificate and private key. All three or none; none means plaintext.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// Enabled reports whether any file is named (Check then wants all three).
func (f TLSFiles) Enabled() bool { return f.CAFile != "" || f.CertFile != "" || f.KeyFile != "" }

// Check reports a partial configuration: all three files or none.
func (f TLSFiles) Check() error {
	if !f.Enabled() || (f.CAFile != "" && f.CertFile != "" && f.KeyFile != "") {
		return nil
	}
	var missing []string
	for _, m := range []struct{ name, v string }{{"CA", f.CAFile}, {"certificate", f.CertFile}, {"key", f.KeyFile}} {
		if m.v == "" {
			missing = append(missing, m.name)
		}
	}
	return fmt.Errorf("raft transport TLS needs a CA, a certificate and a key; the %s %s missing", joinAnd(missing), isAre(len(missing)))
}

func joinAnd(s []string) string {
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " and " + s[1]
	}
	return s[0] + ", " + s[1] + " and " + s[2]
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// handshakeWait bounds a TLS handshake, accepted or dialled: a peer that
// connects and sends nothing holds a goroutine and a socket for this long.
const handshakeWait = 5 * time.Second

// transportTLS holds the loaded configuration: one for accepted
// connections, one (its ServerName set per target) for dialled ones.
type transportTLS struct {
	server, client *tls.Config
}

// loadTLS reads the files (nil, nil when none is named).
func loadTLS(f TLSFiles) (*transportTLS, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	if !f.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("raft transport TLS: certificate %s and key %s: %w", f.CertFile, f.KeyFile, err)
	}
	pem, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, fmt.Errorf("raft transport TLS: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("raft transport TLS: CA file %s holds no PEM certificate", f.CAFile)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("raft transport TLS: certificate %s: %w", f.CertFile, err)
	}
	// Both ends of a connection between storenodes present this
	// certificate: it must be good for a TLS server and a TLS client, and
	// signed by the CA the others trust. Say so now rather than with every
	// refused connection.
	for _, u := range []struct {
		usage x509.ExtKeyUsage
		name  string
	}{{x509.ExtKeyUsageServerAuth, "serverAuth"}, {x509.ExtKeyUsageClientAuth, "clientAuth"}} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{u.usage}}); err != nil {
			return nil, fmt.Errorf("raft transport TLS: certificate %s does not chain to the CA %s for %s (it needs extendedKeyUsage serverAuth and clientAuth): %w", f.CertFile, f.CAFile, u.name, err)
		}
	}
	return &transportTLS{
		server: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
		},
		client: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			RootCAs:      pool,
		},
	}, nil
}

// accept runs the server side of the handshake on an accepted connection.
func (c *transportTLS) accept(conn net.Conn) (net.Conn, error) {
	tc := tls.Server(conn, c.server)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeWait)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// dial runs the client side of the handshake on a connection to target,
// whose certificate must name target's host (an IP or DNS subject
// alternative name).
func (c *transportTLS) dial(ctx context.Context, conn net.Conn, target string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, err
	}
	cfg := c.client.Clone()
	cfg.ServerName = host
	tc := tls.Client(conn, cfg)
	ctx, cancel := context.WithTimeout(ctx, handshakeWait)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("raft transport TLS handshake with %s: %w", target, err)
	}
	return tc, nil
}

// ErrPeerNotAuthenticated: a peer's Raft port answered but did not pass
// the mutual TLS handshake (plaintext, or a certificate our CA did not
// sign or that does not name its address).
var ErrPeerNotAuthenticated = errors.New("raft: the peer's Raft port does not authenticate with a certificate from this cluster's CA")

// CheckPeer makes a TLS connection to a prospective member's Raft address
// and closes it, so that a node that would be refused on every Raft
// connection is not added to a shard (where it would count in quorums it
// can never take part in). It checks nothing when this host's transport is
// plaintext. A handshake that fails is ErrPeerNotAuthenticated; a peer
// that cannot be reached, or does not answer in time, is another error.
func (h *Host) CheckPeer(ctx context.Context, addr string) error {
	t := h.transport.Load()
	if t == nil || t.tls == nil {
		return nil
	}
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("raft: reach %s: %w", addr, err)
	}
	defer conn.Close()
	tc, err := t.tls.dial(ctx, conn, addr)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("raft: %w", err)
		}
		return fmt.Errorf("%w: %w", ErrPeerNotAuthenticated, err)
	}
	defer tc.Close()
	// Under TLS 1.3 our side of the handshake ends before the peer has
	// checked our certificate: a peer that refuses it (it trusts another
	// CA) says so with an alert, one that accepts it waits for frames.
	if err := tc.SetReadDeadline(time.Now().Add(probeWait)); err != nil {
		return err
	}
	var b [1]byte
	_, err = tc.Read(b[:])
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: it closed the connection after the handshake (does it trust this cluster's CA?): %v", ErrPeerNotAuthenticated, err)
	}
	return nil
}

// probeWait is how long CheckPeer waits for a peer to refuse its
// certificate after the handshake.
const probeWait = time.Second
