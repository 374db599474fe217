package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTestCerts writes a CA and a certificate for 127.0.0.1 signed by it
// into dir: ca.pem, server.pem, server.key.
func writeTestCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", kDER)
}

// TestCLITokenTLS: the CLI reaches a server with tokens and TLS through
// --token or FLIGHTWAL_TOKEN, --tls-ca and a grpc+tls:// address.
func TestCLITokenTLS(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeTestCerts(t, dir)
	tokens := filepath.Join(dir, "tokens.yaml")
	os.WriteFile(tokens, []byte("- {name: ops, token: tok-admin, role: admin}\n- {name: bi, token: tok-read, role: read}\n"), 0o600)
	srv := startServer(t, "--storage.uri", filepath.Join(dir, "data"), "--auth.tokens_file", tokens, "--tls.cert_file", cert, "--tls.key_file", key)
	addr := "grpc+tls://" + srv.addr
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(nil, "put", "--addr", addr, "--tls-ca", ca, "--token", "tok-admin", "--table", "g", "--generate", "20", "--dim", "4", "--create", "--pk", "id"); err != nil || !strings.Contains(out, "put 20 rows") {
		t.Fatalf("put with --token over TLS: %v\n%s", err, out)
	}
	if out, err := run([]string{"FLIGHTWAL_TOKEN=tok-read"}, "get", "--addr", addr, "--tls-ca", ca, "--format", "json", `{"table": "g", "pk": [3], "columns": ["id"]}`); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("get with FLIGHTWAL_TOKEN: %v\n%q", err, out)
	}
	if out, err := run(nil, "action", "--addr", addr, "--tls-ca", ca, "stats", `{"table": "g"}`); err == nil || !strings.Contains(out, "Unauthenticated") {
		t.Fatalf("no token: %v\n%s", err, out)
	}
	if out, err := run(nil, "action", "--addr", addr, "--tls-ca", ca, "--token", "tok-read", "drop_table", `{"name": "g"}`); err == nil || !strings.Contains(out, "PermissionDenied") {
		t.Fatalf("read token dropping: %v\n%s", err, out)
	}
	if out, err := run(nil, "action", "--addr", srv.addr, "--token", "tok-read", "stats", `{"table": "g"}`); err == nil {
		t.Fatalf("plaintext to a TLS server succeeded:\n%s", out)
	}
}
