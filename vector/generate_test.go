package vector

import (
	"slices"
	"testing"
)

func TestGenerateClustered(t *testing.T) {
	a := GenerateClustered(300, 32, 5, 9)
	b := GenerateClustered(100, 32, 5, 9)
	if len(a) != 300*32 || !slices.Equal(a[:100*32], b) {
		t.Fatal("a shorter call must be a prefix of a longer one")
	}
	if slices.Equal(a[:32*100], GenerateClustered(100, 32, 5, 10)) {
		t.Fatal("different seeds gave the same data")
	}
	if err := CheckVectors(a, 32); err != nil {
		t.Fatal(err)
	}
	if len(GenerateClustered(0, 8, 3, 1)) != 0 || len(GenerateClustered(10, 4, 0, 1)) != 40 {
		t.Fatal("edge sizes")
	}
}
