// Package config owns flightwal's one typed Config: defaults, an optional
// YAML file, FLIGHTWAL_* environment variables and command-line flags, merged
// by viper with the precedence flags > env > file > defaults, and validated
// once at start so a bad setting fails with a message naming the key.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is every setting of the server. Field comments name the config key.
type Config struct {
	Listen       string       // listen
	Storage      Storage      // storage.*
	Flight       Flight       // flight.*
	WAL          WAL          // wal.*
	MemTable     MemTable     // memtable.*
	Backpressure Backpressure // backpressure.*
	Compaction   Compaction   // compaction.*
	Lance        Lance        // lance.*
	Shutdown     Shutdown     // shutdown.*
	Auth         Auth         // auth.*
	TLS          TLS          // tls.*
	// MetricsListen (metrics.listen) is the HTTP address of /metrics,
	// /healthz, /readyz and /debug/pprof/; "off" turns it off.
	MetricsListen string
	LogLevel      string // log.level
	LogFormat     string // log.format: text or json
	SQL           SQL    // sql.*
}

// SQL holds the embedded SQL engine's settings.
type SQL struct {
	// MemoryLimit (sql.memory_limit, bytes or a share of RAM such as
	// "25%") bounds the engine's memory: past it a query spills or fails
	// with ResourceExhausted.
	MemoryLimit int64
}

// Auth holds authentication settings (API.md, Authentication and TLS).
type Auth struct {
	// TokensFile (auth.tokens_file) is a YAML list of {name, token,
	// role}; empty leaves the server open.
	TokensFile string
	// AllowAnonymous (auth.allow_anonymous) lets an open server listen
	// on an address other than loopback.
	AllowAnonymous bool
}

// TLS holds the Flight listener's certificates.
type TLS struct {
	CertFile     string // tls.cert_file
	KeyFile      string // tls.key_file
	ClientCAFile string // tls.client_ca_file: require client certificates signed by it
}

// Storage says where tables live.
type Storage struct {
	URI string // storage.uri: local directory or s3://bucket/prefix
	S3  S3     // storage.s3.*
}

// S3 holds the S3 connection settings; empty fields fall back to the usual
// AWS_* environment variables.
type S3 struct {
	Endpoint  string // storage.s3.endpoint
	AccessKey string // storage.s3.access_key
	SecretKey string // storage.s3.secret_key
	Region    string // storage.s3.region
	// InsecureSkipVerify (storage.s3.insecure_skip_verify) turns off TLS
	// certificate checks for https endpoints with self-signed certificates.
	// The endpoint's scheme (http:// or https://) selects TLS.
	InsecureSkipVerify bool
}

// Flight holds wire limits.
type Flight struct {
	MaxMessageBytes int64 // flight.max_message_bytes
	// MaxInflightBytes (flight.max_inflight_bytes) bounds the bytes of
	// incoming messages being received and decoded across all streams;
	// "auto" is AutoInflightBytes(MaxMessageBytes).
	MaxInflightBytes int64
	MaxStreams       int64 // flight.max_streams: concurrent Flight calls
}

// Shutdown holds the drain settings (API.md, Operations).
type Shutdown struct {
	// Timeout (shutdown.timeout) is how long SIGTERM lets streams in
	// flight finish before they are cut.
	Timeout time.Duration
}

// WAL holds the group-commit settings.
type WAL struct {
	FlushInterval  time.Duration // wal.flush_interval
	MaxBufferBytes int64         // wal.max_buffer_bytes
}

// MemTable holds the freeze thresholds.
type MemTable struct {
	MaxBytes int64 // memtable.max_bytes
	MaxRows  int64 // memtable.max_rows
}

// Compaction holds the background compaction trigger.
type Compaction struct {
	// AfterGenerations (compaction.after_generations) starts a
	// compaction once a region holds this many flushed generations; 0
	// turns background compaction off (the compact action still runs).
	AfterGenerations int
}

// Lance holds the settings of sharing tables with other Lance writers.
type Lance struct {
	// RefreshInterval (lance.refresh_interval) is how soon other Lance
	// writers' commits become visible: the base table version is
	// re-read this often (and at every compaction).
	RefreshInterval time.Duration
}

// Backpressure holds the write-stall threshold.
type Backpressure struct {
	MaxUnflushedBytes int64 // backpressure.max_unflushed_bytes
}

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// Default returns the documented defaults (ARCHITECTURE.md, "Defaults").
func Default() Config {
	return Config{
		Listen:        "127.0.0.1:8815",
		Storage:       Storage{URI: "./data"},
		Flight:        Flight{MaxMessageBytes: 256 * MiB, MaxInflightBytes: AutoInflightBytes(256 * MiB), MaxStreams: 512},
		WAL:           WAL{FlushInterval: 100 * time.Millisecond, MaxBufferBytes: 10 * MiB},
		MemTable:      MemTable{MaxBytes: 256 * MiB, MaxRows: 1_000_000},
		Backpressure:  Backpressure{MaxUnflushedBytes: 1 * GiB},
		Compaction:    Compaction{AfterGenerations: 8},
		Lance:         Lance{RefreshInterval: time.Second},
		Shutdown:      Shutdown{Timeout: 30 * time.Second},
		MetricsListen: "127.0.0.1:9815",
		LogLevel:      "info",
		LogFormat:     "text",
		SQL:           SQL{MemoryLimit: shareOfMemory(defaultSQLMemory)},
	}
}

// defaultSQLMemory is sql.memory_limit's default: a quarter of RAM.
const defaultSQLMemory = 25

// shareOfMemory is pct% of the memory this process may use (1GiB where
// that cannot be read).
func shareOfMemory(pct int64) int64 {
	if ram := MemoryBytes(); ram > 0 {
		return ram / 100 * pct
	}
	return GiB
}

// parseMemoryLimit reads bytes ("2GiB") or a share of RAM ("25%").
func parseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || n < 1 || n > 100 {
			return 0, fmt.Errorf("want bytes (2GiB) or a share of RAM from 1%% to 100%%, got %q", s)
		}
		return shareOfMemory(n), nil
	}
	n, err := ParseBytes(s)
	if err == nil && n < 1*MiB {
		err = fmt.Errorf("want at least 1MiB, got %q", s)
	}
	return n, err
}

// AutoInflightBytes is flight.max_inflight_bytes' default: an eighth of
// the machine's memory (the cgroup's limit when that is lower), so that
// messages in flight, the memtables (backpressure.max_unflushed_bytes) and
// everything else fit beside each other, and never less than maxMessage,
// so the largest message the server accepts can always be received. Where
// the memory size cannot be read it is 1GiB.
func AutoInflightBytes(maxMessage int64) int64 {
	n := int64(GiB)
	if ram := MemoryBytes(); ram > 0 {
		n = ram / 8
	}
	return max(n, maxMessage)
}

// keys lists every setting with its flag help; sizes accept "256MiB" style.
var keys = []struct{ key, help string }{
	{"listen", "Flight listen address (host:port; port 0 picks a free one)"},
	{"storage.uri", "table storage: local directory or s3://bucket/prefix"},
	{"storage.s3.endpoint", "S3 endpoint URL, e.g. http://127.0.0.1:9000 (default AWS_ENDPOINT_URL)"},
	{"storage.s3.access_key", "S3 access key (default AWS_ACCESS_KEY_ID)"},
	{"storage.s3.secret_key", "S3 secret key (default AWS_SECRET_ACCESS_KEY)"},
	{"storage.s3.region", "S3 region (default AWS_REGION)"},
	{"storage.s3.insecure_skip_verify", "skip TLS certificate verification of an https S3 endpoint (test setups only)"},
	{"flight.max_message_bytes", "largest incoming Flight message"},
	{"flight.max_inflight_bytes", "bytes of incoming messages being received and decoded, across all streams; past it new messages wait, then get ResourceExhausted (auto: 1/8 of RAM, at least flight.max_message_bytes)"},
	{"flight.max_streams", "concurrent Flight calls; past it new calls wait, then get ResourceExhausted"},
	{"wal.flush_interval", "group-commit window for async writes"},
	{"wal.max_buffer_bytes", "flush the WAL buffer once this much is pending"},
	{"memtable.max_bytes", "freeze the active memtable at this size"},
	{"memtable.max_rows", "freeze the active memtable at this many rows"},
	{"backpressure.max_unflushed_bytes", "writes wait while active + frozen memtables exceed this"},
	{"compaction.after_generations", "compact in the background once a region holds this many flushed generations (0: never)"},
	{"lance.refresh_interval", "how soon other Lance writers' commits to a table become visible (the base version is re-read this often)"},
	{"shutdown.timeout", "how long SIGTERM lets streams in flight finish before they are cut"},
	{"auth.tokens_file", "YAML list of {name, token, role} (role read, write or admin); empty: no tokens"},
	{"auth.allow_anonymous", "allow a server with no tokens and no client CA on an address other than loopback"},
	{"tls.cert_file", "TLS certificate (PEM) of the Flight listener; with tls.key_file turns on grpc+tls"},
	{"tls.key_file", "TLS private key (PEM) of tls.cert_file"},
	{"tls.client_ca_file", "CA certificates (PEM) that client certificates must be signed by (mTLS)"},
	{"metrics.listen", "HTTP address of /metrics, /healthz, /readyz, /debug/pprof/ (off: none; port 0 picks one and logs it)"},
	{"log.level", "log level: debug, info, warn, error"},
	{"log.format", "log format: text or json"},
	{"sql.memory_limit", "the embedded SQL engine's memory bound: bytes (2GiB) or a share of RAM (25%); past it a query spills or fails with ResourceExhausted"},
}

// RegisterFlags adds one flag per config key (and --config) to fs.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML config file")
	d := defaultsMap(Default())
	for _, k := range keys {
		fs.String(k.key, d[k.key], k.help)
	}
}

func defaultsMap(c Config) map[string]string {
	return map[string]string{
		"listen":                           c.Listen,
		"storage.uri":                      c.Storage.URI,
		"storage.s3.endpoint":              c.Storage.S3.Endpoint,
		"storage.s3.access_key":            c.Storage.S3.AccessKey,
		"storage.s3.secret_key":            c.Storage.S3.SecretKey,
		"storage.s3.region":                c.Storage.S3.Region,
		"storage.s3.insecure_skip_verify":  strconv.FormatBool(c.Storage.S3.InsecureSkipVerify),
		"flight.max_message_bytes":         formatBytes(c.Flight.MaxMessageBytes),
		"flight.max_inflight_bytes":        autoInflight, // follows flight.max_message_bytes
		"flight.max_streams":               strconv.FormatInt(c.Flight.MaxStreams, 10),
		"wal.flush_interval":               c.WAL.FlushInterval.String(),
		"wal.max_buffer_bytes":             formatBytes(c.WAL.MaxBufferBytes),
		"memtable.max_bytes":               formatBytes(c.MemTable.MaxBytes),
		"memtable.max_rows":                fmt.Sprint(c.MemTable.MaxRows),
		"backpressure.max_unflushed_bytes": formatBytes(c.Backpressure.MaxUnflushedBytes),
		"compaction.after_generations":     strconv.Itoa(c.Compaction.AfterGenerations),
		"lance.refresh_interval":           c.Lance.RefreshInterval.String(),
		"shutdown.timeout":                 c.Shutdown.Timeout.String(),
		"auth.tokens_file":                 c.Auth.TokensFile,
		"auth.allow_anonymous":             strconv.FormatBool(c.Auth.AllowAnonymous),
		"tls.cert_file":                    c.TLS.CertFile,
		"tls.key_file":                     c.TLS.KeyFile,
		"tls.client_ca_file":               c.TLS.ClientCAFile,
		"metrics.listen":                   c.MetricsListen,
		"log.level":                        c.LogLevel,
		"log.format":                       c.LogFormat,
		"sql.memory_limit":                 fmt.Sprintf("%d%%", defaultSQLMemory), // resolved by parseMemoryLimit
	}
}

// autoInflight is flight.max_inflight_bytes' default as written: resolved
// by AutoInflightBytes once flight.max_message_bytes is known.
const autoInflight = "auto"

// Load merges defaults, the --config file, FLIGHTWAL_* env and the flags
// that were set on fs (fs may be nil), then validates.
func Load(fs *pflag.FlagSet) (Config, error) {
	v := viper.New()
	for k, val := range defaultsMap(Default()) {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix("FLIGHTWAL")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	file := os.Getenv("FLIGHTWAL_CONFIG")
	if fs != nil {
		if f := fs.Lookup("config"); f != nil && f.Changed {
			file = f.Value.String()
		}
		var bindErr error
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Name == "config" || !f.Changed {
				return
			}
			if err := v.BindPFlag(f.Name, f); err != nil && bindErr == nil {
				bindErr = err
			}
		})
		if bindErr != nil {
			return Config{}, bindErr
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("config: reading %s: %w", file, err)
		}
		if err := checkFileKeys(v.AllSettings(), ""); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", file, err)
		}
	}
	return fromViper(v)
}

// checkFileKeys rejects unknown keys so a typo in the file is not silently ignored.
func checkFileKeys(m map[string]any, prefix string) error {
	known := map[string]bool{}
	for _, k := range keys {
		known[k.key] = true
		parts := strings.Split(k.key, ".")
		for i := 1; i < len(parts); i++ {
			known[strings.Join(parts[:i], ".")] = true
		}
	}
	for k, val := range m {
		full := k
		if prefix != "" {
			full = prefix + "." + k
		}
		if !known[full] {
			return fmt.Errorf("unknown config key %q", full)
		}
		if sub, ok := val.(map[string]any); ok {
			if err := checkFileKeys(sub, full); err != nil {
				return err
			}
		}
	}
	return nil
}

func fromViper(v *viper.Viper) (Config, error) {
	c := Config{
		Listen:        v.GetString("listen"),
		Storage:       Storage{URI: v.GetString("storage.uri"), S3: S3{Endpoint: v.GetString("storage.s3.endpoint"), AccessKey: v.GetString("storage.s3.access_key"), SecretKey: v.GetString("storage.s3.secret_key"), Region: v.GetString("storage.s3.region")}},
		LogLevel:      v.GetString("log.level"),
		LogFormat:     v.GetString("log.format"),
		MetricsListen: strings.TrimSpace(v.GetString("metrics.listen")),
	}
	var errs []error
	size := func(key string) int64 {
		n, err := ParseBytes(v.GetString(key))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		return n
	}
	c.Flight.MaxMessageBytes = size("flight.max_message_bytes")
	if strings.EqualFold(strings.TrimSpace(v.GetString("flight.max_inflight_bytes")), autoInflight) {
		c.Flight.MaxInflightBytes = AutoInflightBytes(c.Flight.MaxMessageBytes)
	} else {
		c.Flight.MaxInflightBytes = size("flight.max_inflight_bytes")
	}
	streams, err := strconv.ParseInt(strings.TrimSpace(v.GetString("flight.max_streams")), 10, 64)
	if err != nil {
		errs = append(errs, fmt.Errorf("flight.max_streams: want an integer: %w", err))
	}
	c.Flight.MaxStreams = streams
	gens, err := strconv.Atoi(strings.TrimSpace(v.GetString("compaction.after_generations")))
	if err != nil || gens < 0 {
		errs = append(errs, fmt.Errorf("compaction.after_generations: want an integer >= 0, got %q", v.GetString("compaction.after_generations")))
	}
	c.Compaction.AfterGenerations = gens
	c.WAL.MaxBufferBytes = size("wal.max_buffer_bytes")
	c.MemTable.MaxBytes = size("memtable.max_bytes")
	c.Backpressure.MaxUnflushedBytes = size("backpressure.max_unflushed_bytes")
	d, err := time.ParseDuration(v.GetString("wal.flush_interval"))
	if err != nil {
		errs = append(errs, fmt.Errorf("wal.flush_interval: %w", err))
	}
	c.WAL.FlushInterval = d
	c.Lance.RefreshInterval, err = time.ParseDuration(v.GetString("lance.refresh_interval"))
	if err != nil || c.Lance.RefreshInterval <= 0 {
		errs = append(errs, fmt.Errorf("lance.refresh_interval: want a positive duration, got %q", v.GetString("lance.refresh_interval")))
	}
	c.Shutdown.Timeout, err = time.ParseDuration(v.GetString("shutdown.timeout"))
	if err != nil {
		errs = append(errs, fmt.Errorf("shutdown.timeout: %w", err))
	}
	rows, err := ParseBytes(v.GetString("memtable.max_rows")) // plain integers with optional k/M suffixes
	if err != nil {
		errs = append(errs, fmt.Errorf("memtable.max_rows: %w", err))
	}
	c.MemTable.MaxRows = rows
	insecure, err := strconv.ParseBool(v.GetString("storage.s3.insecure_skip_verify"))
	if err != nil {
		errs = append(errs, fmt.Errorf("storage.s3.insecure_skip_verify: want true or false: %w", err))
	}
	c.Storage.S3.InsecureSkipVerify = insecure
	c.Auth.TokensFile = strings.TrimSpace(v.GetString("auth.tokens_file"))
	anon, err := strconv.ParseBool(v.GetString("auth.allow_anonymous"))
	if err != nil {
		errs = append(errs, fmt.Errorf("auth.allow_anonymous: want true or false: %w", err))
	}
	c.Auth.AllowAnonymous = anon
	if c.SQL.MemoryLimit, err = parseMemoryLimit(v.GetString("sql.memory_limit")); err != nil {
		errs = append(errs, fmt.Errorf("sql.memory_limit: %w", err))
	}
	c.TLS = TLS{CertFile: strings.TrimSpace(v.GetString("tls.cert_file")), KeyFile: strings.TrimSpace(v.GetString("tls.key_file")), ClientCAFile: strings.TrimSpace(v.GetString("tls.client_ca_file"))}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return c, c.Validate()
}

// Validate checks ranges and formats, naming the offending key.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: %w", c.Listen, err))
	}
	if strings.TrimSpace(c.Storage.URI) == "" {
		errs = append(errs, errors.New("storage.uri must not be empty"))
	}
	if strings.HasPrefix(c.Storage.URI, "s3://") && len(strings.TrimPrefix(c.Storage.URI, "s3://")) == 0 {
		errs = append(errs, fmt.Errorf("storage.uri %q names no bucket", c.Storage.URI))
	}
	if c.Flight.MaxMessageBytes < 4*MiB {
		errs = append(errs, fmt.Errorf("flight.max_message_bytes must be at least 4MiB, got %d", c.Flight.MaxMessageBytes))
	}
	if c.Flight.MaxInflightBytes < c.Flight.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("flight.max_inflight_bytes (%d) must be at least flight.max_message_bytes (%d), or the largest message could never be received", c.Flight.MaxInflightBytes, c.Flight.MaxMessageBytes))
	}
	if c.Flight.MaxStreams < 1 {
		errs = append(errs, fmt.Errorf("flight.max_streams must be at least 1, got %d", c.Flight.MaxStreams))
	}
	if c.Shutdown.Timeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown.timeout must not be negative, got %s", c.Shutdown.Timeout))
	}
	if c.WAL.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("wal.flush_interval must be positive, got %s", c.WAL.FlushInterval))
	}
	if c.WAL.MaxBufferBytes <= 0 {
		errs = append(errs, errors.New("wal.max_buffer_bytes must be positive"))
	}
	if c.MemTable.MaxBytes <= 0 || c.MemTable.MaxRows <= 0 {
		errs = append(errs, errors.New("memtable.max_bytes and memtable.max_rows must be positive"))
	}
	if c.Backpressure.MaxUnflushedBytes < c.MemTable.MaxBytes {
		errs = append(errs, fmt.Errorf("backpressure.max_unflushed_bytes (%d) must be at least memtable.max_bytes (%d)", c.Backpressure.MaxUnflushedBytes, c.MemTable.MaxBytes))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls.cert_file and tls.key_file go together: set both or neither"))
	}
	if c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		errs = append(errs, errors.New("tls.client_ca_file needs tls.cert_file and tls.key_file"))
	}
	if c.Open() && !c.Auth.AllowAnonymous && !IsLoopback(c.Listen) {
		errs = append(errs, fmt.Errorf("listen %q is not a loopback address and the server would be open (no auth.tokens_file, no tls.client_ca_file): set one, or auth.allow_anonymous: true", c.Listen))
	}
	if c.MetricsListen != MetricsOff {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics.listen %q: want host:port or off: %w", c.MetricsListen, err))
		}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.LogLevel))
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

// Open reports whether the server checks no credentials: no tokens file
// and no client CA.
func (c Config) Open() bool {
	return c.Auth.TokensFile == "" && c.TLS.ClientCAFile == ""
}

// IsLoopback reports whether addr's host is loopback (API.md): an IP in
// 127.0.0.0/8, ::1, or "localhost". An empty host (":8815") and the
// unspecified addresses (0.0.0.0, ::) are not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MetricsOff is the metrics.listen value that turns the HTTP server off.
const MetricsOff = "off"
