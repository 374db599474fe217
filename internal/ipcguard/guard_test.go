package ipcguard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/flightwal/flightwal/internal/datagen"
)

// textStream is a valid IPC stream of one datagen.TextSchema batch.
func textStream(t testing.TB) []byte {
	mem := memory.NewGoAllocator()
	rec := datagen.TextBatch(mem, []int64{1, 2}, "alpha")
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

// hostileCounts returns copies of a valid stream whose schema message
// claims 2^31-1 fields, or 2^31-1 metadata entries on its first field:
// the messages that made arrow-go's reader allocate without bound (found
// by FuzzReplayWALEntry; they are seeds of it and of FuzzDoPut).
func hostileCounts(t testing.TB) [][]byte {
	data := textStream(t)
	frames, err := Split(data)
	if err != nil || len(frames) == 0 {
		t.Fatal(err)
	}
	meta := frames[0].Meta
	metaOff := len(data) - len(data[bytes.Index(data, meta):]) // meta's offset in data
	c := checker{b: meta, lim: DefaultLimits}
	msg, err := c.root()
	if err != nil {
		t.Fatal(err)
	}
	schema, _, err := c.table(msg, 8)
	if err != nil {
		t.Fatal(err)
	}
	lengthAt := func(tab flatbuffers.Table, slot flatbuffers.VOffsetT) int {
		o := tab.Offset(slot)
		return int(tab.Vector(flatbuffers.UOffsetT(o))) - 4
	}
	fields, err := c.tables(schema, 6, 100, "fields")
	if err != nil || len(fields) == 0 {
		t.Fatal(err)
	}
	var out [][]byte
	for _, at := range []int{lengthAt(schema, 6), lengthAt(fields[0], 16)} {
		b := bytes.Clone(data)
		binary.LittleEndian.PutUint32(b[metaOff+at:], 1<<31-1)
		out = append(out, b)
	}
	return out
}

// TestCheckRefusesHostileCounts: counts that would make arrow-go allocate
// gigabytes are refused, and the valid stream passes.
func TestCheckRefusesHostileCounts(t *testing.T) {
	if err := CheckStream(textStream(t), DefaultLimits); err != nil {
		t.Fatalf("a valid stream: %v", err)
	}
	for i, b := range hostileCounts(t) {
		if err := CheckStream(b, DefaultLimits); !errors.Is(err, ErrRefused) {
			t.Fatalf("hostile stream %d: %v, want ErrRefused", i, err)
		}
	}
}
