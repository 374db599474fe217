package lsm

import (
	"encoding/json"
	"fmt"
)

// persistedIndex is one IndexDef as the base manifest's flightwal.indexes
// config holds it. Its JSON names are the on-disk format, private to lsm:
// they do not follow the wire (flight's IndexSpec), so renaming a wire
// field never changes what existing tables hold.
//
// IndexDef and persistedIndex convert to each other with Go conversions,
// which compile only while the two have the same fields: a field added to
// IndexDef must be added here too, with the name it gets on disk (or the
// conversions replaced by code that says what is stored).
type persistedIndex struct {
	Name       string `json:"name"`
	Column     string `json:"column"`
	Type       string `json:"type"`
	Metric     string `json:"metric,omitempty"`
	Partitions int    `json:"partitions,omitempty"`
	SubVectors int    `json:"sub_vectors,omitempty"`
	TrainAfter int    `json:"train_after,omitempty"`
	Stem       *bool  `json:"stem,omitempty"`
	StopWords  *bool  `json:"stop_words,omitempty"`
}

// encodeIndexConfig is the flightwal.indexes config value for defs.
func encodeIndexConfig(defs []IndexDef) string {
	p := make([]persistedIndex, len(defs))
	for i, d := range defs {
		p[i] = persistedIndex(d)
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // strings, ints and bools only
	}
	return string(b)
}

// decodeIndexConfig reads a flightwal.indexes config value. Keys it does
// not know are ignored, so a newer flightwal's tables still open.
func decodeIndexConfig(s string) ([]IndexDef, error) {
	var p []persistedIndex
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("config %s: %w", configIndexes, err)
	}
	defs := make([]IndexDef, len(p))
	for i, x := range p {
		defs[i] = IndexDef(x)
	}
	return defs, nil
}
