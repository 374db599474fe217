package flight_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm"
)

// jsonShape is the JSON text with every scalar replaced by its kind (num,
// str, bool, null): keys, their order and nesting stay as sent.
func jsonShape(t testing.TB, raw []byte) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var b strings.Builder
	// inObject[i]: the i-th open container is an object; wantKey: the next
	// token of that object is a key.
	var inObject []bool
	wantKey := false
	sep := func() {
		if s := b.String(); len(s) > 0 && !strings.HasSuffix(s, "{") && !strings.HasSuffix(s, "[") && !strings.HasSuffix(s, ":") {
			b.WriteByte(',')
		}
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if dl, ok := tok.(json.Delim); ok && (dl == '}' || dl == ']') {
			b.WriteRune(rune(dl))
			inObject = inObject[:len(inObject)-1]
			wantKey = len(inObject) > 0 && inObject[len(inObject)-1]
			continue
		}
		if wantKey {
			sep()
			b.WriteString(`"` + tok.(string) + `":`)
			wantKey = false
			continue
		}
		sep()
		switch v := tok.(type) {
		case json.Delim:
			b.WriteRune(rune(v))
			inObject = append(inObject, v == '{')
			wantKey = v == '{'
			continue
		case json.Number:
			b.WriteString("num")
		case string:
			b.WriteString("str")
		case bool:
			b.WriteString("bool")
		case nil:
			b.WriteString("null")
		}
		wantKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
	return b.String()
}

// TestActionAnswersJSON pins the field names, order and shapes of the
// action answers (API.md, DoAction): the wire types in flight are the
// contract, whatever lsm's types look like.
func TestActionAnswersJSON(t *testing.T) {
	e := newEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1}))
	got := map[string]string{}
	shape := func(name, typ string, body any) {
		raw, err := e.rawAction(typ, body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got[name] = jsonShape(t, raw)
	}
	body := map[string]any{"name": "w", "schema": schemaB64(e, datagen.Schema(8)), "regions": 2, "indexes": []map[string]any{
		{"name": "v", "column": "vec", "type": "ivf_pq", "metric": "cosine", "partitions": 4, "sub_vectors": 2, "train_after": 100000},
		{"column": "text", "type": "fts", "stem": false, "stop_words": true},
		{"column": "id", "type": "btree"},
	}}
	shape("create_table", "create_table", body)
	shape("stats empty", "stats", map[string]any{"table": "w"})
	shape("flush empty", "flush", map[string]any{"table": "w"})
	put := func(first int64) {
		rec := datagen.Batch(e.mem, 8, 1, first, 200)
		defer rec.Release()
		e.mustPut(pathDesc("w"), rec)
	}
	put(0)
	shape("sync", "sync", map[string]any{"table": "w"})
	shape("flush", "flush", map[string]any{"table": "w"})
	shape("stats flushed", "stats", map[string]any{"table": "w"})
	shape("compact", "compact", map[string]any{"table": "w"})
	shape("compact nothing", "compact", map[string]any{"table": "w"})
	put(200)
	shape("freeze", "freeze", map[string]any{"table": "w"})
	shape("freeze empty", "freeze", map[string]any{"table": "w", "region": 1})
	shape("drop_table", "drop_table", map[string]any{"name": "w"})

	const (
		field  = `{"name":str,"type":str,"nullable":bool}`
		region = `{"region":num,"writer_epoch":num,"manifest_version":num,"active_generation":num,"active_rows":num,"active_bytes":num,"frozen_memtables":num,"frozen_rows":num,"frozen_bytes":num,"flushed_generations":`
		tail   = `,"wal_position":num,"replay_after_wal_position":num,"last_seq":num,"durable_watermark":num,"visible_watermark":num,"writing":bool}`
		stats  = `{"table":str,"schema":[` + field + `,` + field + `,` + field + `],"primary_key":str,"base_version":num,"base_rows":num,"base_fragments":num,"base_deleted_rows":num,` +
			`"indexes":[{"name":str,"column":str,"type":str,"metric":str,"partitions":num,"sub_vectors":num,"train_after":num},{"name":str,"column":str,"type":str,"stem":bool,"stop_words":bool},{"name":str,"column":str,"type":str}],` +
			`"index_status":[{"name":str,"type":str,"unindexed_rows":num,"state":str},{"name":str,"type":str,"unindexed_rows":num,"state":str}],"regions":[`
		flushed = `{"region":num,"generation":num,"path":str,"rows":num}`
		froze   = `{"region":num,"active_generation":num,"frozen_generation":num,"frozen_rows":num}`
		result  = `,"rows_written":num,"rows_deleted":num,"bytes_written":num,"fragments_added":num,"rebases":num,"retries":num}`
	)
	want := map[string]string{
		"create_table":    `{"name":str,"version":num}`,
		"stats empty":     stats + region + `[]` + tail + `,` + region + `[]` + tail + `]}`,
		"flush empty":     `{"generations":[]}`,
		"sync":            `{"durable":{"0":num,"1":num}}`,
		"flush":           `{"generations":[` + flushed + `,` + flushed + `]}`,
		"stats flushed":   stats + region + `[num]` + tail + `,` + region + `[num]` + tail + `]}`,
		"compact":         `{"base_version":num,"merged_generations":{"0":[num],"1":[num]}` + result,
		"compact nothing": `{"base_version":num,"merged_generations":{}` + result,
		"freeze":          `{"regions":[` + froze + `,` + froze + `]}`,
		"freeze empty":    `{"regions":[{"region":num,"active_generation":num,"frozen_rows":num}]}`,
		"drop_table":      `{}`,
	}
	// The flush action writes what the background flush (kicked by its own
	// freeze) has not written already: one generation per region or fewer.
	if g := got["flush"]; g == `{"generations":[`+flushed+`]}` || g == `{"generations":[]}` {
		got["flush"] = want["flush"]
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s answer:\n got %s\nwant %s", name, got[name], w)
		}
	}
}
