package vector

// The distance kernels are the hot loops of the package. They are written
// for the Go compiler as it is (no SIMD, no FMA on amd64 v1): 8 elements per
// iteration into 4 independent accumulators, which hides the add latency;
// the re-slice b = b[:len(a)] and the 3-index sub-slices leave one bounds
// check per 8 elements. (8 accumulators measured slower: the compiler spills
// them.) They allocate nothing. Summation order is fixed, so a distance computed twice (flat
// search, refinement) is bit-identical.
//
// Callers guarantee len(b) >= len(a); only len(a) elements are read.

// dot returns sum(a[i]*b[i]).
func dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i <= n-8; i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		s0 += x[0]*y[0] + x[4]*y[4]
		s1 += x[1]*y[1] + x[5]*y[5]
		s2 += x[2]*y[2] + x[6]*y[6]
		s3 += x[3]*y[3] + x[7]*y[7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// l2sq returns sum((a[i]-b[i])^2).
func l2sq(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i <= n-8; i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		d0, d4 := x[0]-y[0], x[4]-y[4]
		d1, d5 := x[1]-y[1], x[5]-y[5]
		d2, d6 := x[2]-y[2], x[6]-y[6]
		d3, d7 := x[3]-y[3], x[7]-y[7]
		s0 += d0*d0 + d4*d4
		s1 += d1*d1 + d5*d5
		s2 += d2*d2 + d6*d6
		s3 += d3*d3 + d7*d7
	}
	for ; i < n; i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// dotNorm returns sum(a[i]*b[i]) and sum(b[i]^2) in one pass (cosine).
func dotNorm(a, b []float32) (ab, bb float32) {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3, t0, t1, t2, t3 float32
	i := 0
	for ; i <= n-8; i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		s0 += x[0]*y[0] + x[4]*y[4]
		s1 += x[1]*y[1] + x[5]*y[5]
		s2 += x[2]*y[2] + x[6]*y[6]
		s3 += x[3]*y[3] + x[7]*y[7]
		t0 += y[0]*y[0] + y[4]*y[4]
		t1 += y[1]*y[1] + y[5]*y[5]
		t2 += y[2]*y[2] + y[6]*y[6]
		t3 += y[3]*y[3] + y[7]*y[7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
		t0 += b[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3), (t0 + t1) + (t2 + t3)
}

// axpy computes y[i] += alpha*x[i] (k-means updates, table building).
func axpy(alpha float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	i := 0
	for ; i <= n-4; i += 4 {
		xx := x[i : i+4 : i+4]
		yy := y[i : i+4 : i+4]
		yy[0] += alpha * xx[0]
		yy[1] += alpha * xx[1]
		yy[2] += alpha * xx[2]
		yy[3] += alpha * xx[3]
	}
	for ; i < n; i++ {
		y[i] += alpha * x[i]
	}
}

// adcSum returns sum over m of lut[m*256+code[m]]: the ADC distance of one
// PQ code against a query's lookup table. len(lut) >= 256*len(code).
func adcSum(lut []float32, code []byte) float32 {
	m := len(code)
	lut = lut[:m*256]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i <= m-4; i += 4 {
		c := code[i : i+4 : i+4]
		t := lut[i*256 : i*256+1024 : i*256+1024]
		s0 += t[c[0]]
		s1 += t[256+int(c[1])]
		s2 += t[512+int(c[2])]
		s3 += t[768+int(c[3])]
	}
	for ; i < m; i++ {
		s0 += lut[i*256+int(code[i])]
	}
	return (s0 + s1) + (s2 + s3)
}

// add sets dst[i] = a[i] + b[i] (per-partition lookup tables).
func add(dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	i := 0
	for ; i <= n-8; i += 8 {
		d := dst[i : i+8 : i+8]
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		d[0] = x[0] + y[0]
		d[1] = x[1] + y[1]
		d[2] = x[2] + y[2]
		d[3] = x[3] + y[3]
		d[4] = x[4] + y[4]
		d[5] = x[5] + y[5]
		d[6] = x[6] + y[6]
		d[7] = x[7] + y[7]
	}
	for ; i < n; i++ {
		dst[i] = a[i] + b[i]
	}
}
