// Package fts is flightwal's full-text search engine: a tokenizer, a
// per-layer inverted index that grows while it is searched, BM25 scoring
// with collection statistics shared across layers, and the sidecar format
// that stores a flushed layer's index.
//
// The package never sees tables, regions or files. Callers hand it text
// with row positions and get row positions back.
//
// # Pieces
//
//   - TokenizerConfig.Tokenize (words.go, analyze.go): UAX #29-like word
//     segmentation, lower-casing, optional English stop words and Snowball
//     (Porter2) stemming, a maximum token length. Tokens keep positions.
//   - ParseQuery (query.go): terms, "quoted phrases", operator Or or And.
//   - Index (index.go): one layer's postings (document, term frequency,
//     token positions) and document lengths. One writer (Add), many
//     lock-free readers (Search, TermStats, MarshalBinary).
//   - Stats, Index.TermStats (stats.go): collection statistics of a layer's
//     live rows, summed over the layers of a snapshot.
//   - Index.Search (search.go), TopK (topk.go): per-layer top k under the
//     global statistics, merged across layers.
//   - BruteForce (bruteforce.go): the reference scorer tests compare with.
//   - GenerateCorpus (corpus.go): seeded Zipf-distributed test corpora.
//   - MarshalBinary / UnmarshalIndex (codec.go, decode.go): the sidecar.
//
// # Searching a snapshot
//
// BM25 depends on the whole collection (document count, average length,
// document frequencies), so a row must be scored with statistics of the
// whole snapshot, not of the layer that happens to hold it. A read does:
//
//	q, err := fts.ParseQuery(text, ix.Config(), fts.WithOperator(op))
//	var st fts.Stats
//	for _, l := range layers { // live: the rows the snapshot keeps from l
//		st.Add(l.ix.TermStats(q.Terms(), l.bound, l.live))
//	}
//	top := fts.NewTopK(k)
//	for i, l := range layers { // allow: live rows that pass the filter
//		top.PushResults(uint32(i), l.ix.Search(q, st, k, l.bound, l.allow), nil)
//	}
//	hits := top.Hits()
//
// With live exactly the snapshot's live rows (newest version of each key,
// no deleted keys), the result equals BruteForce over the live rows' text:
// same rows, same order, same scores. See stats.go for the choice of rows
// and the cost of gathering statistics, bm25.go for the formula.
//
// # Concurrency
//
// TokenizerConfig, Query and the package functions are safe for concurrent
// use; a TopK is not. An Index allows one Add at a time (Add serializes
// itself) concurrently with any number of readers; every read takes a
// bound maxPos and sees exactly the documents below min(maxPos, Len()).
// postings.go and index.go state the publish order that makes this safe.
//
// # Roaring bitmaps
//
// They are used where they pay: in the sidecar, for the document sets of
// frequent terms (a bitmap container costs 1 bit per position, a delta at
// least 8), and in TermStatsExcept, where the dead rows of a layer, given
// as a bitmap, make statistics cost O(|dead|) instead of O(rows). In
// memory, postings are plain arrays: they carry frequencies and positions
// alongside each document, which a bitmap cannot.
package fts
