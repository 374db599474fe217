package serverconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/config"
	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// testCA is a certificate authority made at test time.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for 127.0.0.1 (server) or a client.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveTLS starts a real Flight server with cfg's security.
func serveTLS(t *testing.T, cfg config.Config) (*Security, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sec, err := NewSecurity(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	db, err := lsm.Open(context.Background(), objstore.NewMem(), LSM(config.Default(), log))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fw.Listen("127.0.0.1:0", fw.NewService(db, Flight(config.Default(), log)), sec.ListenOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		db.Close()
	})
	return sec, srv.Addr().String()
}

func listActions(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	c, err := flight.NewClientWithMiddleware(addr, nil, nil, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.ListActions(ctx, &flight.Empty{})
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func pool(pems ...[]byte) *x509.CertPool {
	p := x509.NewCertPool()
	for _, b := range pems {
		p.AppendCertsFromPEM(b)
	}
	return p
}

func TestTLSServes(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "flightwal test CA")
	cert, key := ca.issue(t, "server", true)
	cfg := config.Default()
	cfg.TLS = config.TLS{CertFile: writeFile(t, dir, "server.pem", cert), KeyFile: writeFile(t, dir, "server.key", key)}
	sec, addr := serveTLS(t, cfg)
	if err := listActions(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pool(ca.pem)})); err != nil {
		t.Fatalf("grpc+tls with the CA: %v", err)
	}
	if err := listActions(t, addr, insecure.NewCredentials()); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext to a TLS server: %v", err)
	}
	if err := listActions(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pool(newTestCA(t, "other").pem)})); err == nil {
		t.Fatal("a client trusting another CA connected")
	}
	// SIGHUP's reload serves a certificate from a new CA at the next handshake.
	ca2 := newTestCA(t, "rotated CA")
	cert2, key2 := ca2.issue(t, "server", true)
	writeFile(t, dir, "server.pem", cert2)
	writeFile(t, dir, "server.key", key2)
	if err := sec.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := listActions(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pool(ca2.pem)})); err != nil {
		t.Fatalf("after reload, the new certificate: %v", err)
	}
	// A bad file keeps the certificate in use.
	writeFile(t, dir, "server.key", []byte("not a key"))
	if err := sec.Reload(); err == nil {
		t.Fatal("reload of a bad key: no error")
	}
	if err := listActions(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pool(ca2.pem)})); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
}

func TestTLSMutual(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "flightwal test CA")
	clientCA := newTestCA(t, "client CA")
	cert, key := ca.issue(t, "server", true)
	cfg := config.Default()
	cfg.TLS = config.TLS{CertFile: writeFile(t, dir, "server.pem", cert), KeyFile: writeFile(t, dir, "server.key", key), ClientCAFile: writeFile(t, dir, "clients.pem", clientCA.pem)}
	_, addr := serveTLS(t, cfg)
	ccert, ckey := clientCA.issue(t, "client", false)
	pair, err := tls.X509KeyPair(ccert, ckey)
	if err != nil {
		t.Fatal(err)
	}
	if err := listActions(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pool(ca.pem), Certificates: []tls.Certificate{pair}})); err != nil {
		t.Fatalf("mTLS with a client certificate: %v", err)
	}
	if err := listActions(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pool(ca.pem)})); err == nil {
		t.Fatal("mTLS: a client without a certificate was served")
	}
	ocert, okey := newTestCA(t, "rogue").issue(t, "client", false)
	opair, _ := tls.X509KeyPair(ocert, okey)
	if err := listActions(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pool(ca.pem), Certificates: []tls.Certificate{opair}})); err == nil {
		t.Fatal("mTLS: a certificate from another CA was served")
	}
}
