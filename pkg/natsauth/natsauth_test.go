package natsauth

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// Connections with each means to a real server requiring it are tested in
// tests/natsauth_test.go (the server is not a dependency of this module).

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func userSeed(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return string(seed)
}

// Bad combinations and bad files are refused when the options are built,
// each file under its flag's name.
func TestConfigRefusesBadCombinationsAndFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	junk := writeFile(t, "junk.pem", "not a certificate\n")
	cases := []struct {
		name string
		c    Config
		want string
	}{
		{"user and token", Config{User: "u", Password: "p", Token: "t"}, "choose one way to authenticate"},
		{"creds and nkey", Config{CredsFile: "a", NKeyFile: "b"}, "choose one way to authenticate"},
		{"nkey and user", Config{NKeyFile: "b", User: "u", Password: "p"}, "-nats-nkey) and a user"},
		{"user without password", Config{User: "u"}, `user "u" has no password`},
		{"password without user", Config{Password: "p"}, "a password without a user"},
		{"cert without key", Config{CertFile: "c"}, "needs both -nats-tls-cert and -nats-tls-key"},
		{"key without cert", Config{KeyFile: "k"}, "needs both -nats-tls-cert and -nats-tls-key"},
		{"missing creds", Config{CredsFile: missing}, "-nats-creds"},
		{"creds without JWT", Config{CredsFile: writeFile(t, "x.creds", userSeed(t)+"\n")}, "no user JWT"},
		{"creds without seed", Config{CredsFile: writeFile(t, "y.creds", "-----BEGIN NATS USER JWT-----\na.b.c\n------END NATS USER JWT------\n")}, "no nkey seed"},
		{"missing nkey", Config{NKeyFile: missing}, "-nats-nkey"},
		{"junk nkey", Config{NKeyFile: junk}, "-nats-nkey"},
		{"missing cert", Config{CertFile: missing, KeyFile: missing}, "-nats-tls-cert"},
		{"junk cert", Config{CertFile: junk, KeyFile: junk}, "-nats-tls-cert"},
		{"missing CA", Config{CAFile: missing}, "-nats-ca"},
		{"junk CA", Config{CAFile: junk}, "-nats-ca"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.Options()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Options() error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigOptions(t *testing.T) {
	seed := writeFile(t, "user.nk", userSeed(t)+"\n")
	creds := writeFile(t, "user.creds", "-----BEGIN NATS USER JWT-----\na.b.c\n------END NATS USER JWT------\n\n"+
		"-----BEGIN USER NKEY SEED-----\n"+userSeed(t)+"\n------END USER NKEY SEED------\n")
	for _, c := range []Config{{}, {NKeyFile: seed}, {CredsFile: creds}, {User: "u", Password: "p"}, {Token: "t"}, {TLSFirst: true}} {
		if _, err := c.Options(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if o, _ := (Config{}).Options(); len(o) != 0 {
		t.Errorf("the zero Config gives %d options, want none", len(o))
	}
}

func TestMeansHoldsNoSecret(t *testing.T) {
	c := Config{User: "alice", Password: "s3cret-pw", CertFile: "c.pem", KeyFile: "k.pem"}
	if m := c.Means(); strings.Contains(m, "s3cret") || !strings.Contains(m, "user alice") || !strings.Contains(m, "c.pem") {
		t.Errorf("Means() = %q", m)
	}
	if m := (Config{Token: "tok-s3cret"}).Means(); m != "token" {
		t.Errorf("Means() = %q, want token", m)
	}
	if m := (Config{}).Means(); m != "none" {
		t.Errorf("Means() = %q, want none", m)
	}
}

func parseFlags(t *testing.T, args ...string) (*Flags, *flag.FlagSet) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f, fs
}

func TestFlagsSecrets(t *testing.T) {
	pw := writeFile(t, "pw", "from-file\n")
	t.Run("password file", func(t *testing.T) {
		f, _ := parseFlags(t, "-nats-user", "alice", "-nats-password-file", pw)
		c, err := f.Config()
		if err != nil || c.User != "alice" || c.Password != "from-file" {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("variables", func(t *testing.T) {
		t.Setenv("LOGBOOK_NATS_USER", "bob")
		t.Setenv("LOGBOOK_NATS_PASSWORD", "from-env")
		f, _ := parseFlags(t)
		c, err := f.Config()
		if err != nil || c.User != "bob" || c.Password != "from-env" {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("token file from a variable", func(t *testing.T) {
		t.Setenv("LOGBOOK_NATS_TOKEN_FILE", writeFile(t, "tok", "tok-1\r\n"))
		f, _ := parseFlags(t)
		if c, err := f.Config(); err != nil || c.Token != "tok-1" {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("file and variable", func(t *testing.T) {
		t.Setenv("LOGBOOK_NATS_PASSWORD", "from-env")
		f, _ := parseFlags(t, "-nats-user", "alice", "-nats-password-file", pw)
		if _, err := f.Config(); err == nil || !strings.Contains(err.Error(), "give one") {
			t.Fatalf("got %v, want an error", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		f, _ := parseFlags(t, "-nats-token-file", writeFile(t, "empty", "\n"))
		if _, err := f.Config(); err == nil || !strings.Contains(err.Error(), "is empty") {
			t.Fatalf("got %v, want an error", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		f, _ := parseFlags(t, "-nats-user", "alice", "-nats-password-file", filepath.Join(t.TempDir(), "none"))
		if _, err := f.Config(); err == nil || !strings.Contains(err.Error(), "password file") {
			t.Fatalf("got %v, want an error", err)
		}
	})
	t.Run("combination", func(t *testing.T) {
		t.Setenv("LOGBOOK_NATS_TOKEN", "tok")
		f, _ := parseFlags(t, "-nats-user", "alice", "-nats-password-file", pw)
		if _, err := f.Options(); err == nil || !strings.Contains(err.Error(), "choose one") {
			t.Fatalf("got %v, want an error", err)
		}
	})
}

// The usage text (-h) shows flag defaults, which come from the variables:
// secrets are not among them.
func TestUsageShowsNoSecret(t *testing.T) {
	t.Setenv("LOGBOOK_NATS_PASSWORD", "pw-s3cret")
	t.Setenv("LOGBOOK_NATS_TOKEN", "tok-s3cret")
	t.Setenv("LOGBOOK_NATS_TLS_FIRST", "true")
	_, fs := parseFlags(t)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.PrintDefaults()
	if strings.Contains(out.String(), "s3cret") {
		t.Fatalf("usage shows a secret:\n%s", out.String())
	}
	if fs.Lookup("nats-tls-first").Value.String() != "true" {
		t.Error("LOGBOOK_NATS_TLS_FIRST=true not taken")
	}
}
