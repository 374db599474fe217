package vector

// Model serialization (see codec.go for the frame):
//
//	"FWVMODEL" | version=1
//	metric, dim, partitions, subVectors, codebookSize=256   (uint32 each)
//	centroids  float32[partitions*dim]                     (row-major)
//	codebooks  float32[subVectors*256*(dim/subVectors)]    (sub-space major)
//	crc32c
const (
	modelMagic   = "FWVMODEL"
	modelVersion = 1
)

// MarshalBinary returns the serialized model (encoding.BinaryMarshaler).
func (m *Model) MarshalBinary() ([]byte, error) { return m.appendBinary(nil), nil }

func (m *Model) appendBinary(b []byte) []byte {
	b = appendFrameHeader(b, modelMagic, modelVersion)
	for _, v := range []int{int(m.metric), m.dim, m.ivf.k, m.pq.m, codebookSize} {
		b = appendU32(b, uint32(v))
	}
	b = appendF32s(b, m.ivf.data)
	b = appendF32s(b, m.pq.flat)
	return appendFrameTrailer(b)
}

// UnmarshalBinary replaces m with the model serialized in data
// (encoding.BinaryUnmarshaler); data is not retained. Malformed data wraps
// ErrCorrupt and leaves m unchanged. Use it on a new Model, never on one
// that is in use:
//
//	m := new(vector.Model)
//	err := m.UnmarshalBinary(data)
func (m *Model) UnmarshalBinary(data []byte) error {
	got, err := UnmarshalModel(data)
	if err != nil {
		return err
	}
	*m = *got
	return nil
}

// UnmarshalModel decodes a model written by MarshalBinary.
func UnmarshalModel(data []byte) (*Model, error) {
	const what = "model"
	r, err := openFrame(data, modelMagic, modelVersion, what)
	if err != nil {
		return nil, err
	}
	metric := Metric(r.u32("metric"))
	dim := uint64(r.u32("dim"))
	parts := uint64(r.u32("partitions"))
	subs := uint64(r.u32("sub_vectors"))
	cbs := r.u32("codebook size")
	switch {
	case r.err != nil:
		return nil, r.err
	case !metric.valid():
		return nil, corruptf(what, "unknown metric %d", uint8(metric))
	case dim < 1 || dim > MaxDim:
		return nil, corruptf(what, "dimension %d out of range [1, %d]", dim, MaxDim)
	case parts < 1 || parts > MaxPartitions:
		return nil, corruptf(what, "partitions %d out of range [1, %d]", parts, MaxPartitions)
	case subs < 1 || subs > dim || dim%subs != 0:
		return nil, corruptf(what, "sub_vectors %d does not divide dimension %d", subs, dim)
	case cbs != codebookSize:
		return nil, corruptf(what, "codebook size %d (want %d)", cbs, codebookSize)
	}
	// Both arrays must be present before either is allocated.
	if !r.need(4*(parts*dim+codebookSize*dim), "centroids and codebooks") {
		return nil, r.err
	}
	cents := r.f32s(parts*dim, "centroids")
	books := r.f32s(codebookSize*dim, "codebooks")
	if err := r.done(); err != nil {
		return nil, err
	}
	d, k, ms := int(dim), int(parts), int(subs)
	return newModel(metric, d, newCentroids(k, d, cents), newProductQuantizer(ms, d/ms, books)), nil
}
