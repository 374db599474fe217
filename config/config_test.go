package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestDefaults(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() {
		t.Fatalf("Load(nil) = %+v, want the defaults %+v", c, Default())
	}
	if c.Listen != "127.0.0.1:8815" || c.Storage.URI != "./data" || c.Flight.MaxMessageBytes != 256*MiB ||
		c.WAL.FlushInterval != 100*time.Millisecond || c.WAL.MaxBufferBytes != 10*MiB || c.MemTable.MaxBytes != 256*MiB ||
		c.MemTable.MaxRows != 1_000_000 || c.Backpressure.MaxUnflushedBytes != GiB {
		t.Fatalf("defaults differ from ARCHITECTURE.md: %+v", c)
	}
}

// TestPrecedence: flags beat env, env beats the file, the file beats defaults.
func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:1\nstorage:\n  uri: /from/file\nwal:\n  flush_interval: 7ms\nmemtable:\n  max_rows: 5\n"), 0o644)
	t.Setenv("FLIGHTWAL_STORAGE_URI", "/from/env")
	t.Setenv("FLIGHTWAL_WAL_FLUSH_INTERVAL", "9ms")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--wal.flush_interval", "11ms", "--memtable.max_bytes", "64MiB"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1" {
		t.Errorf("file value lost: listen %q", c.Listen)
	}
	if c.Storage.URI != "/from/env" {
		t.Errorf("env should beat the file: storage.uri %q", c.Storage.URI)
	}
	if c.WAL.FlushInterval != 11*time.Millisecond {
		t.Errorf("flag should beat env: wal.flush_interval %v", c.WAL.FlushInterval)
	}
	if c.MemTable.MaxBytes != 64*MiB || c.MemTable.MaxRows != 5 {
		t.Errorf("memtable %+v", c.MemTable)
	}
}

func TestRejects(t *testing.T) {
	for _, tc := range []struct {
		file, env, want string
	}{
		{file: "wal:\n  flush_intervall: 1s\n", want: `unknown config key "wal.flush_intervall"`},
		{env: "FLIGHTWAL_WAL_MAX_BUFFER_BYTES=lots", want: "wal.max_buffer_bytes"},
		{env: "FLIGHTWAL_LISTEN=nohostport", want: "listen"},
		{env: "FLIGHTWAL_FLIGHT_MAX_MESSAGE_BYTES=1KiB", want: "flight.max_message_bytes"},
		{env: "FLIGHTWAL_LOG_LEVEL=loud", want: "log.level"},
		{env: "FLIGHTWAL_BACKPRESSURE_MAX_UNFLUSHED_BYTES=1MiB", want: "backpressure.max_unflushed_bytes"},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		RegisterFlags(fs)
		var args []string
		if tc.file != "" {
			file := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(file, []byte(tc.file), 0o644)
			args = append(args, "--config", file)
		}
		if tc.env != "" {
			k, v, _ := strings.Cut(tc.env, "=")
			t.Setenv(k, v)
		}
		fs.Parse(args)
		_, err := Load(fs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error naming %q", tc, err, tc.want)
		}
		if tc.env != "" {
			k, _, _ := strings.Cut(tc.env, "=")
			os.Unsetenv(k)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "256MiB": 256 << 20, "1GiB": 1 << 30, "10MB": 10_000_000, "1k": 1000, " 4 KiB ": 4096} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5GiB", "99999999999GiB"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

// TestInsecureSkipVerify: the TLS switch parses strictly.
func TestInsecureSkipVerify(t *testing.T) {
	c, err := loadArgs(t, "--storage.s3.insecure_skip_verify", "true")
	if err != nil || !c.Storage.S3.InsecureSkipVerify {
		t.Fatalf("true: %+v, %v", c.Storage.S3, err)
	}
	if _, err := loadArgs(t, "--storage.s3.insecure_skip_verify", "maybe"); err == nil || !strings.Contains(err.Error(), "insecure_skip_verify") {
		t.Fatalf("maybe: %v", err)
	}
}

func loadArgs(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs)
}

// TestLimitsAndShutdown: flight.max_inflight_bytes defaults to an eighth
// of the memory and follows flight.max_message_bytes; it, flight.max_streams
// and shutdown.timeout parse and are checked.
func TestLimitsAndShutdown(t *testing.T) {
	d := Default()
	if ram := MemoryBytes(); ram > 0 && d.Flight.MaxInflightBytes != max(ram/8, 256*MiB) {
		t.Errorf("default flight.max_inflight_bytes %d, want max(%d/8, 256MiB)", d.Flight.MaxInflightBytes, ram)
	}
	if d.Flight.MaxStreams != 512 || d.Shutdown.Timeout != 30*time.Second {
		t.Errorf("defaults: %+v %+v", d.Flight, d.Shutdown)
	}
	huge := d.Flight.MaxInflightBytes * 2
	c, err := loadArgs(t, "--flight.max_message_bytes", formatBytes(huge))
	if err != nil || c.Flight.MaxInflightBytes != huge {
		t.Fatalf("auto budget with a larger max message: %+v, %v", c.Flight, err)
	}
	c, err = loadArgs(t, "--flight.max_inflight_bytes", "512MiB", "--flight.max_streams", "7", "--shutdown.timeout", "2s")
	if err != nil || c.Flight.MaxInflightBytes != 512*MiB || c.Flight.MaxStreams != 7 || c.Shutdown.Timeout != 2*time.Second {
		t.Fatalf("explicit: %+v %+v, %v", c.Flight, c.Shutdown, err)
	}
	for _, tc := range [][]string{
		{"--flight.max_inflight_bytes", "64MiB", "flight.max_inflight_bytes (67108864) must be at least flight.max_message_bytes"},
		{"--flight.max_inflight_bytes", "lots", "flight.max_inflight_bytes"},
		{"--flight.max_streams", "0", "flight.max_streams"},
		{"--flight.max_streams", "many", "flight.max_streams"},
		{"--shutdown.timeout", "-1s", "shutdown.timeout"},
		{"--shutdown.timeout", "soon", "shutdown.timeout"},
	} {
		if _, err := loadArgs(t, tc[0], tc[1]); err == nil || !strings.Contains(err.Error(), tc[2]) {
			t.Errorf("%s %s: got %v, want an error naming %q", tc[0], tc[1], err, tc[2])
		}
	}
}

func TestAuthRefusesOpenNonLoopback(t *testing.T) {
	for addr, loop := range map[string]bool{
		"127.0.0.1:8815": true, "127.9.9.9:1": true, "[::1]:8815": true, "localhost:8815": true, "LOCALHOST:0": true,
		":8815": false, "[::]:8815": false, "0.0.0.0:8815": false, "10.0.0.1:8815": false, "example.com:1": false,
	} {
		if got := IsLoopback(addr); got != loop {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, loop)
		}
		c := Default()
		c.Listen = addr
		err := c.Validate()
		if loop != (err == nil) {
			t.Errorf("open server on %s: Validate = %v", addr, err)
		}
		if err != nil && !strings.Contains(err.Error(), "auth.allow_anonymous") {
			t.Errorf("open server on %s: error does not name auth.allow_anonymous: %v", addr, err)
		}
		c.Auth.AllowAnonymous = true
		if err := c.Validate(); err != nil {
			t.Errorf("%s with auth.allow_anonymous: %v", addr, err)
		}
		c.Auth = Auth{TokensFile: "/etc/flightwal/tokens.yaml"}
		if err := c.Validate(); err != nil {
			t.Errorf("%s with a tokens file: %v", addr, err)
		}
		c.Auth = Auth{}
		c.TLS = TLS{CertFile: "c.pem", KeyFile: "k.pem", ClientCAFile: "ca.pem"}
		if err := c.Validate(); err != nil {
			t.Errorf("%s with a client CA: %v", addr, err)
		}
	}
	t.Setenv("FLIGHTWAL_LISTEN", "0.0.0.0:8815")
	if _, err := Load(nil); err == nil {
		t.Fatal("Load: an open server on 0.0.0.0 started")
	}
	t.Setenv("FLIGHTWAL_AUTH_ALLOW_ANONYMOUS", "true")
	if _, err := Load(nil); err != nil {
		t.Fatalf("Load with FLIGHTWAL_AUTH_ALLOW_ANONYMOUS: %v", err)
	}
}

func TestTLSKeysGoTogether(t *testing.T) {
	c := Default()
	c.TLS.CertFile = "c.pem"
	if err := c.Validate(); err == nil {
		t.Error("tls.cert_file without tls.key_file: no error")
	}
	c.TLS = TLS{ClientCAFile: "ca.pem"}
	if err := c.Validate(); err == nil {
		t.Error("tls.client_ca_file without a certificate: no error")
	}
}

// TestSampleConfigIsDefaults: deploy/flightwal.yaml names every key with
// its default.
func TestSampleConfigIsDefaults(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--config", "../deploy/flightwal.yaml"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() {
		t.Fatalf("deploy/flightwal.yaml = %+v, want the defaults %+v", c, Default())
	}
	raw, err := os.ReadFile("../deploy/flightwal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		parts := strings.Split(k.key, ".")
		if !strings.Contains(string(raw), parts[len(parts)-1]+":") {
			t.Errorf("deploy/flightwal.yaml lacks %s", k.key)
		}
	}
}
