package natsauth

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/logbookdb/logbook/pkg/flagenv"
	"github.com/nats-io/nats.go"
)

// Flags are the -nats-* authentication and TLS flags of a command, each
// with a LOGBOOK_NATS_* variable as its default. Secrets (password, token)
// are never flag values, which ps and shell histories show: they come from
// a file named by a flag or from a variable, and flag defaults (printed by
// -h) never hold them.
type Flags struct {
	creds, nkey, user, passwordFile, tokenFile, cert, key, ca, inbox *string
	tlsFirst                                                         *bool
}

// Register declares the flags on fs.
func Register(fs *flag.FlagSet) *Flags {
	s := func(name, env, usage string) *string {
		return fs.String(name, flagenv.String(env, ""), usage+" (env "+env+")")
	}
	return &Flags{
		creds:        s("nats-creds", "LOGBOOK_NATS_CREDS", "NATS creds file: user JWT and nkey seed"),
		nkey:         s("nats-nkey", "LOGBOOK_NATS_NKEY", "NATS user nkey seed file"),
		user:         s("nats-user", "LOGBOOK_NATS_USER", "NATS user; its password in LOGBOOK_NATS_PASSWORD or -nats-password-file"),
		passwordFile: s("nats-password-file", "LOGBOOK_NATS_PASSWORD_FILE", "file holding the NATS password of -nats-user, which LOGBOOK_NATS_PASSWORD may hold instead"),
		tokenFile:    s("nats-token-file", "LOGBOOK_NATS_TOKEN_FILE", "file holding a NATS token, which LOGBOOK_NATS_TOKEN may hold instead"),
		cert:         s("nats-tls-cert", "LOGBOOK_NATS_TLS_CERT", "TLS client certificate (PEM) for NATS; with -nats-tls-key"),
		key:          s("nats-tls-key", "LOGBOOK_NATS_TLS_KEY", "private key (PEM) of -nats-tls-cert"),
		ca:           s("nats-ca", "LOGBOOK_NATS_CA", "CA certificates (PEM) the NATS server's certificate must chain to; default the system's"),
		inbox:        s("nats-inbox-prefix", "LOGBOOK_NATS_INBOX_PREFIX", "prefix of reply subjects instead of _INBOX, for a user allowed to subscribe to its own prefix only (docs/security.md)"),
		tlsFirst: fs.Bool("nats-tls-first", flagenv.Bool("LOGBOOK_NATS_TLS_FIRST", false),
			"TLS handshake before the NATS server's INFO, for servers with handshake_first (env LOGBOOK_NATS_TLS_FIRST)"),
	}
}

// Config returns the configuration the parsed flags and the variables give,
// reading the password and token files.
func (f *Flags) Config() (Config, error) {
	c := Config{CredsFile: *f.creds, NKeyFile: *f.nkey, User: *f.user,
		CertFile: *f.cert, KeyFile: *f.key, CAFile: *f.ca, TLSFirst: *f.tlsFirst, InboxPrefix: *f.inbox}
	var err error
	if c.Password, err = secret("password", *f.passwordFile, "LOGBOOK_NATS_PASSWORD"); err != nil {
		return Config{}, err
	}
	if c.Token, err = secret("token", *f.tokenFile, "LOGBOOK_NATS_TOKEN"); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Options returns the connection options the flags give.
func (f *Flags) Options() ([]nats.Option, error) {
	c, err := f.Config()
	if err != nil {
		return nil, err
	}
	return c.Options()
}

// secret reads a secret from file, or else from the variable env; both is
// an error, as one would silently win.
func secret(what, file, env string) (string, error) {
	v := os.Getenv(env)
	if file == "" {
		return v, nil
	}
	if v != "" {
		return "", fmt.Errorf("NATS %s: both a file (%s) and %s; give one", what, file, env)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("NATS %s file: %w", what, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", errors.New("NATS " + what + " file " + file + " is empty")
	}
	return s, nil
}
