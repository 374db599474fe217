package flight_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/datagen"
)

const authTokens = `
- {name: reader, token: r-secret-1, role: read}
- {name: writer, token: w-secret-22, role: write}
- {name: admin, token: a-secret-333, role: admin}
`

// bearer sends a fixed token on every call (tests run without TLS).
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

func writeTokens(t testing.TB, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newAuthEnv is a server with authTokens whose e.client is admin.
func newAuthEnv(t *testing.T) (*env, *fw.Auth, string) {
	t.Helper()
	file := writeTokens(t, t.TempDir(), authTokens)
	a, err := fw.NewAuth(file)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withListen(fw.WithAuth(a)), withDial(grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearer("a-secret-333"))))
	return e, a, file
}

func withToken(tok string) context.Context {
	if tok == "" {
		return context.Background()
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// plainClient is a client that sends no credentials of its own.
func plainClient(e *env) flight.Client {
	c, err := flight.NewClientWithMiddleware(e.srv.Addr().String(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func drainStream[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func doAction(ctx context.Context, c flight.Client, typ string, body any) error {
	raw, _ := json.Marshal(body)
	s, err := c.DoAction(ctx, &flight.Action{Type: typ, Body: raw})
	if err != nil {
		return err
	}
	return drainStream(s.Recv)
}

func doPutCtx(ctx context.Context, e *env, c flight.Client, table string, first, n int64) error {
	rec := datagen.Batch(e.mem, 4, 1, first, n)
	defer rec.Release()
	s, err := c.DoPut(ctx)
	if err != nil {
		return err
	}
	w := flight.NewRecordWriter(s, ipc.WithSchema(rec.Schema()))
	w.SetFlightDescriptor(pathDesc(table))
	_ = w.Write(rec)
	w.Close()
	s.CloseSend()
	return drainStream(s.Recv)
}

type rpcCase struct {
	name string
	need fw.Role
	call func(ctx context.Context, c flight.Client) error
}

func authCases(e *env) []rpcCase {
	tk, _ := json.Marshal(map[string]any{"table": "t"})
	return []rpcCase{
		{"ListFlights", fw.RoleRead, func(ctx context.Context, c flight.Client) error {
			s, err := c.ListFlights(ctx, &flight.Criteria{})
			if err != nil {
				return err
			}
			return drainStream(s.Recv)
		}},
		{"ListActions", fw.RoleRead, func(ctx context.Context, c flight.Client) error {
			s, err := c.ListActions(ctx, &flight.Empty{})
			if err != nil {
				return err
			}
			return drainStream(s.Recv)
		}},
		{"GetFlightInfo", fw.RoleRead, func(ctx context.Context, c flight.Client) error {
			_, err := c.GetFlightInfo(ctx, pathDesc("t"))
			return err
		}},
		{"GetSchema", fw.RoleRead, func(ctx context.Context, c flight.Client) error {
			_, err := c.GetSchema(ctx, pathDesc("t"))
			return err
		}},
		{"DoGet", fw.RoleRead, func(ctx context.Context, c flight.Client) error {
			s, err := c.DoGet(ctx, &flight.Ticket{Ticket: tk})
			if err != nil {
				return err
			}
			return drainStream(s.Recv)
		}},
		{"stats", fw.RoleRead, func(ctx context.Context, c flight.Client) error {
			return doAction(ctx, c, "stats", map[string]any{"table": "t"})
		}},
		{"DoPut", fw.RoleWrite, func(ctx context.Context, c flight.Client) error {
			return doPutCtx(ctx, e, c, "t", 1000, 10)
		}},
		{"freeze", fw.RoleWrite, func(ctx context.Context, c flight.Client) error {
			return doAction(ctx, c, "freeze", map[string]any{"table": "t"})
		}},
		{"flush", fw.RoleWrite, func(ctx context.Context, c flight.Client) error {
			return doAction(ctx, c, "flush", map[string]any{"table": "t"})
		}},
		{"sync", fw.RoleWrite, func(ctx context.Context, c flight.Client) error {
			return doAction(ctx, c, "sync", map[string]any{"table": "t"})
		}},
		{"compact", fw.RoleAdmin, func(ctx context.Context, c flight.Client) error {
			return doAction(ctx, c, "compact", map[string]any{"table": "t"})
		}},
		{"create_table", fw.RoleAdmin, func(ctx context.Context, c flight.Client) error {
			return doAction(ctx, c, "create_table", map[string]any{"name": "made", "schema": schemaB64(e, datagen.Schema(4))})
		}},
		{"drop_table", fw.RoleAdmin, func(ctx context.Context, c flight.Client) error {
			return doAction(ctx, c, "drop_table", map[string]any{"name": "gone"})
		}},
	}
}

// authState is what a refused call must not change: the tables and t's rows.
func authState(t *testing.T, e *env) string {
	t.Helper()
	names, err := e.db.ListTables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec := e.mustGet(map[string]any{"table": "t"})
	defer rec.Release()
	b, _ := json.Marshal(map[string]any{"tables": names, "rows": rec.NumRows()})
	return string(b)
}

func TestAuthEveryRPCAndRole(t *testing.T) {
	e, _, _ := newAuthEnv(t)
	e.createTable("t", datagen.Schema(4), nil)
	e.createTable("gone", datagen.Schema(4), nil)
	rec := datagen.Batch(e.mem, 4, 1, 0, 50)
	e.mustPut(pathDesc("t"), rec)
	rec.Release()
	c := plainClient(e)
	before := authState(t, e)
	creds := []struct {
		name, token string
		role        fw.Role
	}{{"none", "", fw.RoleNone}, {"wrong", "not-a-token", fw.RoleNone}, {"reader", "r-secret-1", fw.RoleRead}, {"writer", "w-secret-22", fw.RoleWrite}, {"admin", "a-secret-333", fw.RoleAdmin}}
	// Refusals first: none of them may change anything.
	for _, rc := range authCases(e) {
		for _, cr := range creds {
			if cr.role >= rc.need {
				continue
			}
			err := rc.call(withToken(cr.token), c)
			want := codes.PermissionDenied
			if cr.role == fw.RoleNone {
				want = codes.Unauthenticated
			}
			if got := status.Code(err); got != want {
				t.Errorf("%s as %s: got %v (%v), want %v", rc.name, cr.name, got, err, want)
			}
		}
	}
	if after := authState(t, e); after != before {
		t.Fatalf("refused calls changed the server: before %s, after %s", before, after)
	}
	// Every role at or above what a call needs is let through.
	for _, rc := range authCases(e) {
		for _, cr := range creds {
			if cr.role < rc.need || (rc.need == fw.RoleAdmin && cr.name != "admin") {
				continue
			}
			if rc.name == "create_table" || rc.name == "drop_table" {
				continue // run once below
			}
			if err := rc.call(withToken(cr.token), c); err != nil {
				t.Errorf("%s as %s: %v", rc.name, cr.name, err)
			}
		}
	}
	for _, rc := range authCases(e)[len(authCases(e))-2:] {
		if err := rc.call(withToken("a-secret-333"), c); err != nil {
			t.Errorf("%s as admin: %v", rc.name, err)
		}
	}
	names, _ := e.db.ListTables(context.Background())
	if len(names) != 2 || names[0] != "made" || names[1] != "t" {
		t.Fatalf("after admin create and drop: tables %v", names)
	}
}

func TestAuthBeforeLookup(t *testing.T) {
	e, _, _ := newAuthEnv(t)
	c := plainClient(e)
	err := doAction(withToken("r-secret-1"), c, "drop_table", map[string]any{"name": "nosuch"})
	wantCode(t, err, codes.PermissionDenied, "admin")
	err = doAction(withToken("w-secret-22"), c, "compact", map[string]any{"table": "nosuch"})
	wantCode(t, err, codes.PermissionDenied, "admin")
	err = doPutCtx(withToken("r-secret-1"), e, c, "nosuch", 0, 1)
	wantCode(t, err, codes.PermissionDenied, "write")
	// DoPut that may create its table needs admin, as create_table does.
	rec := datagen.Batch(e.mem, 4, 1, 0, 3)
	defer rec.Release()
	for _, tc := range []struct {
		tok  string
		want codes.Code
	}{{"w-secret-22", codes.PermissionDenied}, {"a-secret-333", codes.OK}} { // in this order: the admin creates
		tok, want := tc.tok, tc.want
		s, err := c.DoPut(withToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		w := flight.NewRecordWriter(s, ipc.WithSchema(rec.Schema()))
		w.SetFlightDescriptor(cmdDesc(map[string]any{"table": "viaput", "create": map[string]any{"primary_key": "id"}}))
		_ = w.Write(rec)
		w.Close()
		s.CloseSend()
		if err := drainStream(s.Recv); status.Code(err) != want {
			t.Fatalf("DoPut create with %s: %v, want %v", tok, err, want)
		}
		if names, _ := e.db.ListTables(context.Background()); (len(names) == 1) != (want == codes.OK) {
			t.Fatalf("DoPut create with %s: tables %v", tok, names)
		}
	}
	err = doAction(withToken("a-secret-333"), c, "drop_table", map[string]any{"name": "nosuch"})
	wantCode(t, err, codes.NotFound, "")
	_, err = c.GetSchema(withToken("r-secret-1x"), pathDesc("nosuch"))
	wantCode(t, err, codes.Unauthenticated, "")
}

func TestAuthHandshakeBasic(t *testing.T) {
	e, _, _ := newAuthEnv(t)
	e.createTable("t", datagen.Schema(4), nil)
	c := plainClient(e)
	// arrow-go sends unpadded base64.
	ctx, err := c.AuthenticateBasicToken(context.Background(), "writer", "w-secret-22")
	if err != nil {
		t.Fatal(err)
	}
	if err := doPutCtx(ctx, e, c, "t", 0, 5); err != nil {
		t.Fatalf("DoPut with the handshake's token: %v", err)
	}
	if err := doAction(ctx, c, "compact", map[string]any{"table": "t"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("writer compact: %v", err)
	}
	if _, err := c.AuthenticateBasicToken(context.Background(), "writer", "wrong"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := c.AuthenticateBasicToken(context.Background(), "reader", "w-secret-22"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("another entry's token: %v", err)
	}
	// pyarrow pads; "reader:r-secret-1" is 17 bytes, so it ends in "=".
	enc := base64.StdEncoding.EncodeToString([]byte("reader:r-secret-1"))
	if enc[len(enc)-1] != '=' {
		t.Fatalf("test credentials are not padded: %s", enc)
	}
	hs, err := c.Handshake(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Basic "+enc))
	if err != nil {
		t.Fatal(err)
	}
	hs.CloseSend()
	hdr, err := hs.Header()
	if err != nil {
		t.Fatal(err)
	}
	if err := drainStream(hs.Recv); err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("authorization"); len(got) != 1 || got[0] != "Bearer r-secret-1" {
		t.Fatalf("padded basic: authorization header %q", got)
	}
	// Handshake without credentials needs no token.
	hs, err = c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hs.CloseSend()
	if err := drainStream(hs.Recv); err != nil {
		t.Fatalf("handshake without credentials: %v", err)
	}
}

func TestAuthReloadRevokes(t *testing.T) {
	e, a, file := newAuthEnv(t)
	e.createTable("t", datagen.Schema(4), nil)
	c := plainClient(e)
	if _, err := c.GetSchema(withToken("r-secret-1"), pathDesc("t")); err != nil {
		t.Fatal(err)
	}
	// A file that fails to parse keeps the old tokens.
	writeTokens(t, filepath.Dir(file), "- {name: x, token: y, role: superuser}\n")
	if err := a.Reload(); err == nil {
		t.Fatal("reload of a bad file: no error")
	}
	if _, err := c.GetSchema(withToken("r-secret-1"), pathDesc("t")); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
	writeTokens(t, filepath.Dir(file), "- {name: admin, token: a-secret-333, role: admin}\n- {name: reader, token: r-new, role: read}\n")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetSchema(withToken("r-secret-1"), pathDesc("t"))
	wantCode(t, err, codes.Unauthenticated, "")
	if _, err := c.GetSchema(withToken("r-new"), pathDesc("t")); err != nil {
		t.Fatalf("new token: %v", err)
	}
}

func TestAuthTokensFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, body := range []string{
		"- {name: a, token: t, role: root}\n",
		"- {name: a, token: '', role: read}\n",
		"- {name: a, token: t, role: read}\n- {name: a, token: u, role: read}\n",
		"- {name: a, token: t, role: read}\n- {name: b, token: t, role: read}\n",
		"not: a list\n",
	} {
		if _, err := fw.NewAuth(writeTokens(t, dir, body)); err == nil {
			t.Errorf("tokens file %q: no error", body)
		}
	}
	if _, err := fw.NewAuth(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing tokens file: no error")
	}
}
