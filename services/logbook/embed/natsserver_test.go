package embed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A nats-server configuration file's settings win; where it is silent,
// Logbook's defaults apply, loopback included.
func TestServerOptionsFromConfigFile(t *testing.T) {
	write := func(content string) string {
		p := filepath.Join(t.TempDir(), "nats.conf")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, conf     string
		host           string
		port           int
		maxPayload     int32
		serverName     string
		wantAuthorized bool
	}{
		{"silent", "authorization { token: t0k }\n", "127.0.0.1", 4222, 8 << 20, "logbook", true},
		{"port only", "port: 4333\nmax_payload: 2MB\n", "127.0.0.1", 4333, 2 << 20, "logbook", false},
		{"listen and name", "listen: \"0.0.0.0:5000\"\nserver_name: edge\n", "0.0.0.0", 5000, 8 << 20, "edge", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{NATSConfigFile: write(tc.conf)}
			c.setDefaults()
			o, err := c.serverOptions()
			if err != nil {
				t.Fatal(err)
			}
			if o.Host != tc.host || o.Port != tc.port || o.MaxPayload != tc.maxPayload || o.ServerName != tc.serverName || !o.NoSigs {
				t.Errorf("host %q port %d max_payload %d name %q nosigs %v", o.Host, o.Port, o.MaxPayload, o.ServerName, o.NoSigs)
			}
			if (o.Authorization != "") != tc.wantAuthorized {
				t.Errorf("authorization %q", o.Authorization)
			}
		})
	}
	c := Config{NATSConfigFile: write("port: [nonsense\n")}
	c.setDefaults()
	if _, err := c.serverOptions(); err == nil || !strings.Contains(err.Error(), "NATS configuration") {
		t.Errorf("a bad file: %v", err)
	}
}
