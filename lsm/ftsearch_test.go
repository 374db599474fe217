package lsm

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/fts"
)

// ftsTruth is BruteForce over the model's live rows, with the same
// tokenizer and statistics over all of them; keep then picks the rows a
// prefilter passes.
func ftsTruth(live map[int64]srow, q fts.Query, cfg fts.TokenizerConfig, k int, keep func(srow) bool) []hit {
	ids := make([]int64, 0, len(live))
	for id := range live {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	docs := make([]string, len(ids))
	for i, id := range ids {
		if !live[id].null {
			docs[i] = live[id].text
		}
	}
	n := k
	if keep != nil {
		n = len(docs)
	}
	var out []hit
	for _, r := range fts.BruteForce(docs, nil, q, cfg, n) {
		if keep == nil || keep(live[ids[r.Pos]]) {
			out = append(out, hit{ids[r.Pos], r.Score})
		}
	}
	return out[:min(k, len(out))]
}

// TestSearchAcrossLayers: on a generated corpus of over 50,000 documents
// spread over the base table, a flushed generation, a frozen and the
// active memtable, top k equals BruteForce over the live rows for term,
// AND and phrase queries (with and without a prefilter); upserted text is
// found by its new words and not its old ones; deleted rows never come
// back; the same holds after a restart.
func TestSearchAcrossLayers(t *testing.T) {
	ctx := context.Background()
	store, flushes := gatedStore()
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "ft", Schema: searchSchema(4), Regions: 2, Indexes: []IndexDef{
		{Name: "t", Column: "text", Type: "fts"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 56000
	corpus := fts.GenerateCorpus(n+4000, 20, 11)
	m := &searchModel{t: t, tbl: tbl, mem: mem, dim: 4, live: map[int64]srow{}}
	rows := func(ids []int64, shift int64) map[int64]srow {
		out := map[int64]srow{}
		for _, id := range ids {
			out[id] = srow{text: corpus[id+shift], cat: id % 3}
		}
		return out
	}
	special := func(id int64, text string) {
		m.upsert(map[int64]srow{id: {text: text, cat: id % 3}})
	}
	// Base table.
	m.upsert(rows(seqRange(0, 25000), 0))
	special(2000, "zqxold alpha words")
	special(2001, "zqxdoomed gamma words")
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	// A flushed generation.
	m.upsert(rows(seqRange(0, 500), n))
	m.delete(seqRange(500, 1000)...)
	m.upsert(rows(seqRange(25000, 40000), 0))
	special(2002, "zqxgen delta words")
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	// A frozen memtable, with null texts.
	m.upsert(rows(seqRange(1000, 1500), n+500))
	m.delete(seqRange(25000, 25500)...)
	m.upsert(rows(seqRange(40000, 48000), 0))
	nulls := map[int64]srow{}
	for _, id := range seqRange(48000, 48100) {
		nulls[id] = srow{null: true, cat: id % 3}
	}
	m.upsert(nulls)
	flushes.block()
	if _, err := tbl.Freeze(ctx, -1); err != nil {
		t.Fatal(err)
	}
	// The active memtable.
	m.upsert(rows(seqRange(48100, n), 0))
	m.upsert(rows(seqRange(1500, 2000), n+1000))
	m.delete(seqRange(40000, 40500)...)
	special(2000, "zqxnew beta words")
	m.delete(2001, 2002)
	if len(m.live) < 50000 {
		t.Fatalf("only %d live documents", len(m.live))
	}

	cfg := tbl.idx.texts[0].cfg
	type tc struct {
		name, text, op string
		filter         string
		keep           func(srow) bool
	}
	// Queries from the corpus' own words: frequent and rare terms, two
	// words of one document with AND, two adjacent words as a phrase.
	words := func(doc string) []string { // the words analysis keeps
		var out []string
		for _, x := range strings.Fields(strings.NewReplacer(".", " ", ",", " ").Replace(doc)) {
			if len(cfg.Tokenize(x)) == 1 {
				out = append(out, x)
			}
		}
		return out
	}
	w, w2 := words(corpus[10007]), words(corpus[30001])
	adjacent := func(doc string) string { // two adjacent kept words
		all := strings.Fields(strings.NewReplacer(".", " ", ",", " ").Replace(doc))
		for i := len(all) - 2; i >= 0; i-- {
			if len(cfg.Tokenize(all[i])) == 1 && len(cfg.Tokenize(all[i+1])) == 1 {
				return all[i] + " " + all[i+1]
			}
		}
		return all[0] + " " + all[1]
	}
	cases := []tc{
		{name: "term", text: w[2]},
		{name: "terms", text: w[3] + " " + w2[4] + " " + w2[len(w2)-1]},
		{name: "and", text: w[1] + " " + w[len(w)-2], op: "and"},
		{name: "phrase", text: fmt.Sprintf("%q", adjacent(corpus[30001]))},
		{name: "phrase and term", text: fmt.Sprintf("%q %s", adjacent(corpus[10007]), w[0]), op: "and"},
		{name: "term, prefilter", text: w[2] + " " + w2[3], filter: "cat = 1", keep: func(r srow) bool { return r.cat == 1 }},
	}
	type want struct {
		q    fts.Query
		hits []hit
	}
	truths := make([]want, len(cases))
	for i, c := range cases {
		op, _ := fts.ParseOperator(c.op)
		q, err := fts.ParseQuery(c.text, cfg, fts.WithOperator(op))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		truths[i] = want{q, ftsTruth(m.live, q, cfg, 10, c.keep)}
		if len(truths[i].hits) == 0 {
			t.Fatalf("%s: query %q matches nothing: a useless case", c.name, c.text)
		}
	}
	check := func(stage string, tbl *Table, mem memory.Allocator) {
		t.Helper()
		for i, c := range cases {
			got := runSearch(t, tbl, mem, Query{Search: &SearchQuery{Query: c.text, K: 10, Operator: c.op}, Filter: c.filter})
			if d := sameHits(truths[i].hits, got, 1e-6); d != "" {
				t.Fatalf("%s: %s (%s): %s", stage, c.name, truths[i].q, d)
			}
		}
		for _, probe := range []struct {
			text string
			ids  []int64
		}{
			{"zqxnew", []int64{2000}}, {"zqxold", nil}, {"zqxdoomed", nil}, {"zqxgen", nil},
		} {
			got := runSearch(t, tbl, mem, Query{Search: &SearchQuery{Query: probe.text, Columns: []string{"text"}, K: 10}})
			if len(got) != len(probe.ids) || (len(got) == 1 && got[0].id != probe.ids[0]) {
				t.Fatalf("%s: %q found %v, want ids %v", stage, probe.text, got, probe.ids)
			}
		}
	}
	check("fresh", tbl, mem)
	waitIndexed(t, tbl)
	check("indexed", tbl, mem)

	flushes.unblock()
	db.Close()
	mem.AssertSize(t, 0)
	db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	defer func() {
		db2.Close()
		mem2.AssertSize(t, 0)
	}()
	tbl2, err := db2.Table(ctx, "ft")
	if err != nil {
		t.Fatal(err)
	}
	check("restarted", tbl2, mem2)
	waitIndexed(t, tbl2)
	check("restarted, indexed", tbl2, mem2)
}
