package flight

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeFlightData: for any bytes, split into frames anywhere,
// decodeFlightData either declines or decodes exactly what proto.Unmarshal
// decodes, and when it declines the codec still decodes as proto does.
func FuzzDecodeFlightData(f *testing.F) {
	full, _ := proto.Marshal(&flight.FlightData{
		FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"t"}},
		DataHeader:       []byte("header"), AppMetadata: []byte("meta"), DataBody: make([]byte, 40_000),
	})
	body, _ := proto.Marshal(&flight.FlightData{DataHeader: []byte{1, 2, 3}, DataBody: []byte("body")})
	empty := protowire.AppendBytes(protowire.AppendTag(nil, 1000, protowire.BytesType), nil)
	unknown := protowire.AppendVarint(protowire.AppendTag(append([]byte{}, body...), 7, protowire.VarintType), 5)
	twice := append(append([]byte{}, body...), body...) // proto: last one wins
	for _, b := range [][]byte{full, body, empty, unknown, twice, nil, {0x0a}, {0x12, 0x05, 1}, {0xc2, 0x3e, 0x80}} {
		f.Add(b, uint16(1))
		f.Add(b, uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		var frames mem.BufferSlice
		step := int(cut%64) + 1
		for rest := data; len(rest) > 0; {
			n := min(step, len(rest))
			frames = append(frames, mem.SliceBuffer(rest[:n]))
			rest = rest[n:]
		}
		want := new(flight.FlightData)
		wantErr := proto.Unmarshal(data, want)
		got := new(flight.FlightData)
		if decodeFlightData(frames, got) {
			if wantErr != nil {
				t.Fatalf("decoded %x, which proto rejects: %v", data, wantErr)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("decoded %x as %v, proto as %v", data, got, want)
			}
		}
		c := newBudgetCodec(newLimits(1<<30, 1<<30, 1, 0))
		got = new(flight.FlightData)
		err := c.Unmarshal(frames, got)
		if (err != nil) != (wantErr != nil) || err == nil && !proto.Equal(got, want) {
			t.Fatalf("codec: %v, %v; proto: %v, %v", got, err, want, wantErr)
		}
	})
}

// TestDecodeFlightDataTakes: what Flight clients send takes the one-copy
// path; unknown and repeated fields are left to proto.
func TestDecodeFlightDataTakes(t *testing.T) {
	msg := &flight.FlightData{
		FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"table": "t"}`)},
		DataHeader:       []byte("header"), DataBody: make([]byte, 100_000),
	}
	raw, _ := proto.Marshal(msg)
	frames := mem.BufferSlice{mem.SliceBuffer(raw[:16384]), mem.SliceBuffer(raw[16384:])}
	got := new(flight.FlightData)
	if !decodeFlightData(frames, got) || !proto.Equal(got, msg) {
		t.Fatalf("a client's message: decoded %v", got)
	}
	unknown := protowire.AppendVarint(protowire.AppendTag(append([]byte{}, raw...), 7, protowire.VarintType), 5)
	if decodeFlightData(mem.BufferSlice{mem.SliceBuffer(unknown)}, new(flight.FlightData)) {
		t.Fatal("a message with an unknown field took the one-copy path")
	}
	if decodeFlightData(mem.BufferSlice{mem.SliceBuffer(append(append([]byte{}, raw...), raw...))}, new(flight.FlightData)) {
		t.Fatal("a message with repeated fields took the one-copy path")
	}
}
