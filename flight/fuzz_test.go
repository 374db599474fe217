package flight

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
)

// FuzzParseTicket: any bytes give a ticket or an errInvalid error, never a
// panic, and a parsed ticket names a table.
func FuzzParseTicket(f *testing.F) {
	for _, s := range []string{
		`{"table": "t"}`,
		`{"table": "t", "columns": ["a"], "filter": "a = 1", "limit": 5}`,
		`{"table": "t", "pk": [1, "x", 2.5]}`,
		`{"table": "t", "nearest": {"column": "v", "vector": [1, 2], "k": 3}}`,
		`{"table": "t", "limt": 1}`, `[]`, `{`, `null`, `{"table": ""}`, `{"table": "t"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := parseTicket(data)
		if err == nil && tk.Table == "" {
			t.Fatalf("ticket without a table accepted: %q", data)
		}
	})
}

// FuzzParsePutDescriptor: any CMD bytes give a request or an error.
func FuzzParsePutDescriptor(f *testing.F) {
	for _, s := range []string{
		`{"table": "t"}`, `{"table": "t", "op": "delete", "durable": false}`,
		`{"table": "t", "create": {"primary_key": "id", "regions": 4}}`,
		`{"table": "t", "op": "merge"}`, `{"table": 1}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parsePutDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: data})
		if err == nil && r.table == "" {
			t.Fatalf("command without a table accepted: %q", data)
		}
	})
}
