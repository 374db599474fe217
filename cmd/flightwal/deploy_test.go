package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/flightwal/flightwal/config"
)

// TestDockerfile: no Docker engine runs here, so the image is checked by
// what it is made of: its build line builds what `make build` builds (the
// SQL engine needs cgo and the duckdb_arrow tag), and the configuration
// its ENV and sample file give loads and reaches the server's Config.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := strings.ReplaceAll(string(raw), "\\\n", " ")
	build := regexp.MustCompile(`(?m)^RUN (.*go build .*)$`).FindStringSubmatch(df)
	if build == nil {
		t.Fatal("no RUN go build line")
	}
	for _, want := range []string{"CGO_ENABLED=1", "-tags=duckdb_arrow", "./cmd/flightwal"} {
		if !strings.Contains(build[1], want) {
			t.Errorf("the image's build line %q lacks %s", build[1], want)
		}
	}
	env := regexp.MustCompile(`FLIGHTWAL_[A-Z_]+=\S+`).FindAllString(df[strings.Index(df, "\nENV "):], -1)
	if len(env) < 5 {
		t.Fatalf("ENV of the image: %v", env)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "FLIGHTWAL_CONFIG" {
			v = "../../deploy/flightwal.yaml" // COPY deploy/flightwal.yaml /etc/flightwal/
		}
		t.Setenv(k, v)
	}
	c, err := config.Load(nil)
	if err != nil {
		t.Fatalf("the image's configuration: %v", err)
	}
	got := map[string]string{
		"FLIGHTWAL_LISTEN":           c.Listen,
		"FLIGHTWAL_METRICS_LISTEN":   c.MetricsListen,
		"FLIGHTWAL_STORAGE_URI":      c.Storage.URI,
		"FLIGHTWAL_AUTH_TOKENS_FILE": c.Auth.TokensFile,
		"FLIGHTWAL_LOG_FORMAT":       c.LogFormat,
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "FLIGHTWAL_CONFIG" {
			continue
		}
		g, ok := got[k]
		if !ok {
			t.Errorf("the image sets %s, which this test does not check: add it", k)
		} else if g != v {
			t.Errorf("%s=%s reached the config as %q", k, v, g)
		}
	}
	if c.Open() {
		t.Error("the image's server would start open on 0.0.0.0")
	}
}
