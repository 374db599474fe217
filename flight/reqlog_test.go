package flight_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/datagen"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// TestRequestLogOneLinePerCall: a JSON line per call with its request id,
// peer, method, table, principal, duration and code; none per batch; no token.
func TestRequestLogOneLinePerCall(t *testing.T) {
	buf := &syncBuf{}
	log := slog.New(slog.NewJSONHandler(buf, nil))
	file := writeTokens(t, t.TempDir(), authTokens)
	a, err := fw.NewAuth(file)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withListen(fw.WithRequestLog(log), fw.WithAuth(a)), withDial(grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearer("a-secret-333"))))
	e.createTable("t", datagen.Schema(4), nil)
	b1, b2, b3 := datagen.Batch(e.mem, 4, 1, 0, 5), datagen.Batch(e.mem, 4, 1, 5, 5), datagen.Batch(e.mem, 4, 1, 10, 5)
	defer b1.Release()
	defer b2.Release()
	defer b3.Release()
	e.mustPut(pathDesc("t"), b1, b2, b3)
	e.mustGet(map[string]any{"table": "t", "pk": []int{1}}).Release()
	c := plainClient(e)
	_, _ = c.GetSchema(withToken("r-secret-1x"), pathDesc("t"))
	lines := buf.lines(t)
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4 (create_table, DoPut, DoGet, GetSchema):\n%v", len(lines), lines)
	}
	want := []struct{ method, table, code, principal string }{
		{"DoAction", "t", "OK", "admin"}, {"DoPut", "t", "OK", "admin"}, {"DoGet", "t", "OK", "admin"}, {"GetSchema", "t", "Unauthenticated", ""},
	}
	ids := map[any]bool{}
	for i, w := range want {
		l := lines[i]
		if l["msg"] != "request" || l["method"] != w.method || l["table"] != w.table || l["code"] != w.code || l["peer"] == nil || l["duration"] == nil || l["request_id"] == nil {
			t.Errorf("line %d: %v, want %+v", i, l, w)
		}
		if w.principal != "" && l["principal"] != w.principal {
			t.Errorf("line %d: principal %v, want %s", i, l["principal"], w.principal)
		}
		ids[l["request_id"]] = true
	}
	if len(ids) != 4 {
		t.Errorf("request ids not unique: %v", ids)
	}
	if s := buf.b.String(); strings.Contains(s, "secret") {
		t.Errorf("a token was logged: %s", s)
	}
}
