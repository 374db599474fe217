package vector

// FlatSearch is exact k-nearest-neighbour search: it scans every row of
// vectors (row-major, dimension dim; row i has position i) and returns the
// k nearest to query under metric, best first, ties broken by position.
// Rows for which allow returns false are skipped (allow nil admits every
// row), and so are rows with a NaN or infinite component: they have no
// meaningful distance, and Index.Add refuses them, so exact and indexed
// search see the same rows. Fewer than k results come back only when fewer
// such rows exist.
//
// Its distances are the exact ones: identical, bit for bit, to Metric.Distance
// and to the refined distances of Index.Search.
func FlatSearch(vectors []float32, dim int, query []float32, k int, metric Metric, allow func(pos uint32) bool) ([]Result, error) {
	if err := CheckVectorShape(vectors, dim); err != nil {
		return nil, err
	}
	if err := checkSearchArgs(query, dim, k, metric); err != nil {
		return nil, err
	}
	rows := len(vectors) / dim
	if uint64(rows) > maxRows {
		return nil, invalidf("%d rows exceed the limit of %d positions", rows, maxRows)
	}
	top := NewTopK(k)
	d := newDistancer(metric, query)
	// A non-finite component makes the distance NaN or infinite, so rows
	// are looked at again only then (a finite row may overflow to
	// infinity: it stays). The exception is a zero query under cosine,
	// which is at distance 1 from every row.
	checkAll := metric == Cosine && d.qNorm == 0
	for i := range rows {
		pos := uint32(i)
		if allow != nil && !allow(pos) {
			continue
		}
		row := vectors[i*dim : (i+1)*dim]
		dist := d.distance(row)
		if checkAll || dist-dist != 0 {
			if j, _ := firstNonFinite(row); j >= 0 {
				continue
			}
		}
		top.Push(Hit{Distance: dist, Pos: pos})
	}
	return top.Results(), nil
}

// CheckVectorShape reports whether vectors holds whole vectors of dimension
// dim (1 <= dim <= MaxDim), without looking at the values.
func CheckVectorShape(vectors []float32, dim int) error {
	if dim <= 0 || dim > MaxDim {
		return invalidf("dimension %d out of range [1, %d]", dim, MaxDim)
	}
	if len(vectors)%dim != 0 {
		return invalidf("%d values do not make whole vectors of dimension %d", len(vectors), dim)
	}
	return nil
}

// checkSearchArgs validates the arguments every search shares.
func checkSearchArgs(query []float32, dim, k int, metric Metric) error {
	if !metric.valid() {
		return invalidf("unknown metric %d", uint8(metric))
	}
	if k <= 0 || k > MaxK {
		return invalidf("k = %d out of range [1, %d]", k, MaxK)
	}
	return CheckQuery(query, dim)
}
