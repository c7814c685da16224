package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/natsauth"
	"github.com/logbookdb/logbook/services/logbook/embed"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// plainNATSOptions are a test NATS server's options before authentication
// and TLS.
func plainNATSOptions() *server.Options {
	return &server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true}
}

// serverTLS configures a server's TLS from pki, verifying client
// certificates when verify.
func serverTLS(t testing.TB, o *server.Options, pki testPKI, verify bool) {
	t.Helper()
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CaFile: pki.CA, Verify: verify})
	if err != nil {
		t.Fatal(err)
	}
	o.TLSConfig, o.TLSVerify, o.TLSTimeout = tc, verify, 2
}

// newUserSeed makes a user nkey and returns its seed file and public key.
func newUserSeed(t testing.TB) (file, pub string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ = kp.PublicKey()
	return writeSecret(t, "user.nk", string(seed)+"\n"), pub
}

// operatorMode makes an operator and an account it trusts, and returns the
// server configuration, a creds file of a user of that account and one of
// a user of an account the server does not know.
func operatorMode(t testing.TB) (configure func(*server.Options), creds, strangerCreds string) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	keyPair := func(create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, string) {
		kp, err := create()
		must(err)
		pub, err := kp.PublicKey()
		must(err)
		return kp, pub
	}
	encode := func(c jwt.Claims, signer nkeys.KeyPair) string {
		s, err := c.Encode(signer)
		must(err)
		return s
	}
	op, opPub := keyPair(nkeys.CreateOperator)
	opClaims, err := jwt.DecodeOperatorClaims(encode(jwt.NewOperatorClaims(opPub), op))
	must(err)
	acc, accPub := keyPair(nkeys.CreateAccount)
	accJWT := encode(jwt.NewAccountClaims(accPub), op)
	stranger, _ := keyPair(nkeys.CreateAccount)
	userOf := func(account nkeys.KeyPair) string {
		u, pub := keyPair(nkeys.CreateUser)
		seed, err := u.Seed()
		must(err)
		b, err := jwt.FormatUserConfig(encode(jwt.NewUserClaims(pub), account), seed)
		must(err)
		return writeSecret(t, "user.creds", string(b))
	}
	configure = func(o *server.Options) {
		r := &server.MemAccResolver{}
		must(r.Store(accPub, accJWT))
		o.TrustedOperators, o.AccountResolver = []*jwt.OperatorClaims{opClaims}, r
	}
	return configure, userOf(acc), userOf(stranger)
}

// connectWith connects to url with the options c gives, without retrying.
func connectWith(t testing.TB, url string, c natsauth.Config) (*nats.Conn, error) {
	t.Helper()
	opts, err := c.Options()
	if err != nil {
		t.Fatalf("options of %+v: %v", c, err)
	}
	return nats.Connect(url, append(opts, nats.Timeout(3*time.Second), nats.NoReconnect())...)
}

// Each means produces a working connection to a real server that requires
// it, and wrong or missing credentials are refused.
func TestNATSAuthMeans(t *testing.T) {
	pki, otherPKI := newTestPKI(t), newTestPKI(t)
	seed, pub := newUserSeed(t)
	otherSeed, _ := newUserSeed(t)
	operator, creds, strangerCreds := operatorMode(t)
	const violation = "authorization violation"
	type refusal struct {
		c    natsauth.Config
		want string // in the error; "" for any (a TLS failure)
	}
	cases := []struct {
		name    string
		server  func(*server.Options)
		good    natsauth.Config
		refused map[string]refusal
	}{
		{"user and password", func(o *server.Options) { o.Users = []*server.User{{Username: "alice", Password: "pw-1"}} },
			natsauth.Config{User: "alice", Password: "pw-1"},
			map[string]refusal{"wrong password": {natsauth.Config{User: "alice", Password: "pw-2"}, violation}, "none": {natsauth.Config{}, violation}}},
		{"token", func(o *server.Options) { o.Authorization = "tok-1" },
			natsauth.Config{Token: "tok-1"},
			map[string]refusal{"wrong token": {natsauth.Config{Token: "tok-2"}, violation}, "none": {natsauth.Config{}, violation}}},
		{"nkey", func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} },
			natsauth.Config{NKeyFile: seed},
			map[string]refusal{"another nkey": {natsauth.Config{NKeyFile: otherSeed}, violation}, "none": {natsauth.Config{}, violation}}},
		{"creds", operator,
			natsauth.Config{CredsFile: creds},
			map[string]refusal{"unknown account": {natsauth.Config{CredsFile: strangerCreds}, violation}, "none": {natsauth.Config{}, violation}}},
		{"client certificate", func(o *server.Options) { serverTLS(t, o, pki, true) },
			natsauth.Config{CertFile: pki.ClientCert, KeyFile: pki.ClientKey, CAFile: pki.CA},
			map[string]refusal{
				"no certificate":            {natsauth.Config{CAFile: pki.CA}, ""},
				"certificate of another CA": {natsauth.Config{CertFile: otherPKI.ClientCert, KeyFile: otherPKI.ClientKey, CAFile: pki.CA}, ""},
				"server not trusted":        {natsauth.Config{CertFile: pki.ClientCert, KeyFile: pki.ClientKey, CAFile: otherPKI.CA}, "certificate"},
			}},
		{"TLS first", func(o *server.Options) { serverTLS(t, o, pki, false); o.TLSHandshakeFirst = true },
			natsauth.Config{CAFile: pki.CA, TLSFirst: true},
			map[string]refusal{"INFO first": {natsauth.Config{CAFile: pki.CA}, ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := plainNATSOptions()
			tc.server(opts)
			_, url := startNATSWith(t, opts)
			nc, err := connectWith(t, url, tc.good)
			if err != nil {
				t.Fatalf("connect with %s: %v", tc.good.Means(), err)
			}
			roundTrip(t, nc)
			nc.Close()
			for name, r := range tc.refused {
				nc, err := connectWith(t, url, r.c)
				if err == nil {
					nc.Close()
					t.Fatalf("%s: connected, want refused", name)
				}
				if !strings.Contains(strings.ToLower(err.Error()), r.want) {
					t.Errorf("%s: %v, want an error with %q", name, err, r.want)
				}
			}
		})
	}
}

// roundTrip checks that nc carries messages.
func roundTrip(t testing.TB, nc *nats.Conn) {
	t.Helper()
	sub, err := nc.SubscribeSync("auth.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("auth.test", []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(3 * time.Second); err != nil || string(m.Data) != "ping" {
		t.Fatalf("round trip: %v", err)
	}
}

// The embedded server loads a configuration requiring client certificates
// and users; Logbook's own in-process connection may present a certificate
// too (TLS over the in-process pipe), and clients with credentials are
// served.
func TestEmbedNATSConfigWithClientCertificate(t *testing.T) {
	pki := newTestPKI(t)
	conf := writeSecret(t, "nats.conf", fmt.Sprintf("tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true }\n"+
		"authorization { users: [ {user: logbook, password: pw-lb}, {user: app, password: pw-app} ] }\n",
		pki.ServerCert, pki.ServerKey, pki.CA))
	tlsCfg := natsauth.Config{CertFile: pki.ClientCert, KeyFile: pki.ClientKey, CAFile: pki.CA}
	own := tlsCfg
	own.User, own.Password = "logbook", "pw-lb"
	ownOpts, err := own.Options()
	if err != nil {
		t.Fatal(err)
	}
	lb, err := embed.Start(ctxT(t), embed.Config{DataDir: t.TempDir(), NATSPort: -1, RaftAddress: freeAddr(t), Logger: testLogger(),
		NATSConfigFile: conf, NATSOptions: ownOpts})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer lb.Close()
	if !strings.HasPrefix(lb.ClientURL(), "tls://127.0.0.1:") {
		t.Errorf("client URL %s, want tls:// on loopback", lb.ClientURL())
	}
	app := tlsCfg
	app.User, app.Password = "app", "pw-app"
	appOpts, err := app.Options()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Connect(lb.ClientURL(), client.WithNATSOptions(appOpts...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Store(embed.DefaultStoreID).Append(ctxT(t), "s-1", client.NoStream, client.Event{Type: "T"}); err != nil {
		t.Fatalf("append: %v", err)
	}
	if nc, err := connectWith(t, lb.ClientURL(), tlsCfg); err == nil {
		nc.Close()
		t.Fatal("a client without a user connected")
	}
}
