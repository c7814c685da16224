// Package natsauth turns the standard NATS means of authentication and TLS
// (creds files, nkey seeds, user and password, token, client certificates,
// a CA, TLS-first) into nats.Options, for Logbook's processes, lbctl and Go
// clients (pass Config.Options to client.WithNATSOptions). flags.go declares
// them as -nats-* flags with LOGBOOK_NATS_* variables; see DESIGN.md.
package natsauth

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Config says how to authenticate to NATS and how to set up TLS. It holds
// at most one identity: CredsFile, NKeyFile, User with Password, or Token.
// The zero Config adds nothing: a plain connection without credentials.
type Config struct {
	// CredsFile is a .creds file: a user JWT and its nkey seed (NATS
	// decentralized authentication, operator mode).
	CredsFile string
	// NKeyFile holds a user nkey seed (SU…).
	NKeyFile string
	// User and Password: username/password authentication.
	User     string
	Password string
	// Token: token authentication.
	Token string
	// CertFile and KeyFile: a TLS client certificate and its private key
	// (PEM), for servers that verify clients (verify, verify_and_map).
	CertFile string
	KeyFile  string
	// CAFile: PEM certificates of the authorities the server's certificate
	// must chain to; default the system's.
	CAFile string
	// TLSFirst does the TLS handshake before the server's INFO, for
	// servers with handshake_first.
	TLSFirst bool
	// InboxPrefix replaces _INBOX as the prefix of reply subjects: a
	// tenant's user may subscribe to its own prefix only, so that no other
	// client sees its replies (docs/security.md).
	InboxPrefix string
}

// identities names the identities set in c, for error messages.
func (c Config) identities() []string {
	var ids []string
	if c.CredsFile != "" {
		ids = append(ids, "a creds file (-nats-creds)")
	}
	if c.NKeyFile != "" {
		ids = append(ids, "an nkey seed (-nats-nkey)")
	}
	if c.User != "" || c.Password != "" {
		ids = append(ids, "a user and password (-nats-user)")
	}
	if c.Token != "" {
		ids = append(ids, "a token")
	}
	return ids
}

// Validate checks the combination: one identity at most, a user with a
// password, a certificate with its key.
func (c Config) Validate() error {
	if ids := c.identities(); len(ids) > 1 {
		return fmt.Errorf("NATS: choose one way to authenticate, not %s", strings.Join(ids, " and "))
	}
	if c.User != "" && c.Password == "" {
		return fmt.Errorf("NATS: user %q has no password (LOGBOOK_NATS_PASSWORD or -nats-password-file)", c.User)
	}
	if c.User == "" && c.Password != "" {
		return errors.New("NATS: a password without a user (-nats-user)")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("NATS: a TLS client certificate needs both -nats-tls-cert and -nats-tls-key")
	}
	return nil
}

// Means lists the means in use, without secrets, for logs; "none" when
// there are none.
func (c Config) Means() string {
	var m []string
	switch {
	case c.CredsFile != "":
		m = append(m, "creds file "+c.CredsFile)
	case c.NKeyFile != "":
		m = append(m, "nkey seed "+c.NKeyFile)
	case c.User != "":
		m = append(m, "user "+c.User)
	case c.Token != "":
		m = append(m, "token")
	}
	if c.CertFile != "" {
		m = append(m, "client certificate "+c.CertFile)
	}
	if c.CAFile != "" {
		m = append(m, "CA "+c.CAFile)
	}
	if c.TLSFirst {
		m = append(m, "TLS first")
	}
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(m, ", ")
}

// Options validates c and returns the nats.Options it stands for. The files
// are read now, so that a missing or malformed one is reported at start-up
// rather than at the first connection attempt.
func (c Config) Options() ([]nats.Option, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	switch {
	case c.CredsFile != "":
		if err := checkCreds(c.CredsFile); err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey seed -nats-nkey %s: %w", c.NKeyFile, err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	// ClientCert and RootCAs load their files when applied: apply them
	// once here to report a bad file under its flag's name.
	var scratch nats.Options
	if c.CertFile != "" {
		o := nats.ClientCert(c.CertFile, c.KeyFile)
		if err := o(&scratch); err != nil {
			return nil, fmt.Errorf("NATS TLS client certificate -nats-tls-cert %s, -nats-tls-key %s: %w", c.CertFile, c.KeyFile, err)
		}
		opts = append(opts, o)
	}
	if c.CAFile != "" {
		o := nats.RootCAs(c.CAFile)
		if err := o(&scratch); err != nil {
			return nil, fmt.Errorf("NATS TLS CA -nats-ca %s: %w", c.CAFile, err)
		}
		opts = append(opts, o)
	}
	if c.TLSFirst {
		opts = append(opts, nats.TLSHandshakeFirst())
	}
	return opts, nil
}

// checkCreds checks that a creds file holds a user JWT and an nkey seed, as
// nats.UserCredentials will read it at each connection.
func checkCreds(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("NATS creds file -nats-creds: %w", err)
	}
	defer clear(b)
	// An undecorated file parses as a JWT as it is: check its shape.
	if jwt, err := nkeys.ParseDecoratedJWT(b); err != nil || strings.Count(jwt, ".") != 2 {
		return fmt.Errorf("NATS creds file -nats-creds %s: no user JWT", path)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return fmt.Errorf("NATS creds file -nats-creds %s: no nkey seed: %w", path, err)
	}
	kp.Wipe()
	return nil
}
