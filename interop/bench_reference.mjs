// The Lance reference column of `flightwal bench`: writes the benchmark's
// data set with the real Lance engine (LanceDB) into a 1-fragment table and
// a table of 100-row fragments, times the benchmark's four queries on each
// inside node, and prints the timings and the answers as JSON.
//
//   node bench_reference.mjs <spec.json>
//
// spec: {"dir": lance db directory (created),
//        "data": [Arrow IPC files, in id order],
//        "fragment_rows": 100,            // rows per append of the many-fragment table
//        "warmup": 3, "runs": 20, "k": 10,
//        "cell_budget_ms": 30000, "min_runs": 5, // fewer runs for a query slower than that
//        "lookup_ids": ["17", ...],        // int64 as decimal strings
//        "fts_queries": ["word1 word2", ...],
//        "vectors": "queries.f32", "dim": 1024, // float32 little-endian, one query per dim floats
//        "ivf_pq": {"enabled": true, "partitions": 0, "sub_vectors": 0, "max_seconds": 120,
//                   "nprobes": 20, "refine_factor": 10},   // 0 = LanceDB's defaults
//        "arrangements": ["one", "many"]}
// Output (stdout, one JSON object): {"lancedb_version", "arrangements":
//   [{"name", "fragments", "rows", "write_ms", "index_ms": {...},
//     "ops": {"scan"|"lookup"|"fts"|"vector_flat"|"vector_ivf_pq":
//             {"samples_ms": [...], "rows"?, "results"?, "skipped"?}}}]}
// Progress goes to stderr, one line per step.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { lancedb, arrow, print, toJSONValue } from "./common.mjs";

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const k = spec.k || 10;
const warmup = spec.warmup ?? 3;
const runs = spec.runs ?? 20;
const log = (msg) => process.stderr.write(`lance: ${msg}\n`);

// LanceDB's version, from the package.json above its resolved entry point
// (its exports map hides package.json from require).
let version = "unknown";
try {
  let d = path.dirname(createRequire(import.meta.url).resolve("@lancedb/lancedb"));
  while (!fs.existsSync(path.join(d, "package.json")) && path.dirname(d) !== d) d = path.dirname(d);
  version = JSON.parse(fs.readFileSync(path.join(d, "package.json"), "utf8")).version;
} catch {
  // informational only
}

// The data set, as one Arrow table (the files are read in order).
const t0 = performance.now();
let data = null;
for (const f of spec.data) {
  const part = arrow.tableFromIPC(fs.readFileSync(f));
  data = data ? data.concat(part) : part;
}
const total = data.numRows;
log(`read ${total} rows from ${spec.data.length} Arrow IPC file(s) in ${Math.round(performance.now() - t0)} ms`);

const raw = fs.readFileSync(spec.vectors);
const allq = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const queries = [];
for (let i = 0; i + spec.dim <= allq.length; i += spec.dim) queries.push(allq.subarray(i, i + spec.dim));

const ids = (tbl) => Array.from(tbl.getChild("id").toArray(), (v) => v.toString());

// time runs fn(i, true) once for each of the n distinct queries (the
// correctness pass, untimed, which records the answers), then fn(i mod n,
// false) warmup + runs times (fewer runs past cell_budget_ms), and returns
// the timed samples in ms.
async function time(n, fn) {
  for (let i = 0; i < n; i++) await fn(i, true);
  const samples = [];
  let timed = 0;
  for (let r = 0; r < warmup + runs; r++) {
    if (r === warmup) timed = performance.now();
    else if (r > warmup && samples.length >= (spec.min_runs || 5) && spec.cell_budget_ms && performance.now() - timed > spec.cell_budget_ms) break;
    const s = performance.now();
    await fn(r % n, false);
    if (r >= warmup) samples.push(performance.now() - s);
  }
  return samples;
}

async function timed(fn) {
  const s = performance.now();
  await fn();
  return performance.now() - s;
}

async function fragments(t) {
  try {
    return (await t.stats()).fragmentStats.numFragments;
  } catch {
    return -1;
  }
}

async function measure(t, name) {
  const ops = {};
  // Full scan: every column of every row, as Arrow.
  let rows = 0;
  ops.scan = { samples_ms: await time(1, async () => (rows = (await t.query().toArrow()).numRows)) };
  ops.scan.rows = rows;
  log(`${name}: scan done`);

  // Point lookup by id (scalar btree index on id).
  const lookups = spec.lookup_ids.map(() => null);
  ops.lookup = {
    samples_ms: await time(spec.lookup_ids.length, async (j, keep) => {
      const res = await t.query().where(`id = ${spec.lookup_ids[j]}`).toArrow();
      if (keep) {
        lookups[j] = [];
        for (let r = 0; r < res.numRows; r++) {
          const v = res.getChild("vec").get(r);
          lookups[j].push({ id: toJSONValue(res.getChild("id").get(r)), text: res.getChild("text").get(r), vec0: v ? v.get(0) : null });
        }
      }
    }),
  };
  ops.lookup.results = lookups;
  log(`${name}: point lookup done`);

  // Full-text search, k results.
  const fts = spec.fts_queries.map(() => null);
  ops.fts = {
    samples_ms: await time(spec.fts_queries.length, async (j, keep) => {
      const res = await t.query().fullTextSearch(spec.fts_queries[j], { columns: "text" }).select(["id", "_score"]).limit(k).toArrow();
      if (keep) fts[j] = ids(res);
    }),
  };
  ops.fts.results = fts;
  log(`${name}: full-text search done`);

  // Exact (flat) vector search: the ground truth of recall.
  const flat = queries.map(() => null);
  ops.vector_flat = {
    samples_ms: await time(queries.length, async (j, keep) => {
      const res = await t.vectorSearch(queries[j]).column("vec").bypassVectorIndex().select(["id", "_distance"]).limit(k).toArrow();
      if (keep) flat[j] = ids(res);
    }),
  };
  ops.vector_flat.results = flat;
  log(`${name}: flat vector search done`);
  return ops;
}

async function ivfPq(t, name, out, budget) {
  const cfg = spec.ivf_pq || {};
  if (!cfg.enabled) {
    out.ops.vector_ivf_pq = { skipped: "IVF_PQ disabled by the spec" };
    return 0;
  }
  if (budget.exceeded) {
    out.ops.vector_ivf_pq = { skipped: `the first IVF_PQ build took ${Math.round(budget.last / 1000)} s, over the ${cfg.max_seconds} s budget` };
    return 0;
  }
  const opts = {};
  if (cfg.partitions) opts.numPartitions = cfg.partitions;
  if (cfg.sub_vectors) opts.numSubVectors = cfg.sub_vectors;
  log(`${name}: training IVF_PQ ${JSON.stringify(opts)}`);
  const ms = await timed(() => t.createIndex("vec", { config: lancedb.Index.ivfPq(opts) }));
  out.index_ms.ivf_pq = ms;
  budget.last = ms;
  if (cfg.max_seconds && ms > cfg.max_seconds * 1000) budget.exceeded = true;
  log(`${name}: IVF_PQ built in ${Math.round(ms)} ms`);
  const res = queries.map(() => null);
  out.ops.vector_ivf_pq = {
    samples_ms: await time(queries.length, async (j, keep) => {
      let q = t.vectorSearch(queries[j]).column("vec").select(["id", "_distance"]).limit(k);
      if (cfg.nprobes) q = q.nprobes(cfg.nprobes);
      if (cfg.refine_factor) q = q.refineFactor(cfg.refine_factor);
      const r = await q.toArrow();
      if (keep) res[j] = ids(r);
    }),
  };
  out.ops.vector_ivf_pq.results = res;
  out.ops.vector_ivf_pq.params = { ...opts, nprobes: cfg.nprobes || "LanceDB default", refine_factor: cfg.refine_factor || "none" };
  log(`${name}: IVF_PQ vector search done`);
  return ms;
}

const db = await lancedb.connect(spec.dir);
const result = { lancedb_version: version, rows: total, arrangements: [] };
const budget = { exceeded: false, last: 0 };
for (const name of spec.arrangements || ["one", "many"]) {
  const out = { name, rows: total, index_ms: {}, ops: {} };
  let t;
  if (name === "one") {
    log(`one: writing ${total} rows in one createTable`);
    out.write_ms = await timed(async () => (t = await db.createTable("one", data, { mode: "overwrite" })));
  } else {
    const step = spec.fragment_rows || 100;
    const n = Math.ceil(total / step);
    log(`many: writing ${total} rows as ${n} appends of ${step} rows`);
    let last = performance.now();
    out.write_ms = await timed(async () => {
      t = await db.createTable("many", data.slice(0, step), { mode: "overwrite" });
      for (let i = 1; i < n; i++) {
        await t.add(data.slice(i * step, Math.min(total, (i + 1) * step)));
        if (performance.now() - last > 5000) {
          log(`many: ${i + 1}/${n} appends`);
          last = performance.now();
        }
      }
    });
  }
  out.fragments = await fragments(t);
  out.rows = await t.countRows();
  log(`${name}: ${out.rows} rows in ${out.fragments} fragments, written in ${Math.round(out.write_ms)} ms`);
  out.index_ms.btree = await timed(() => t.createIndex("id", { config: lancedb.Index.btree() }));
  out.index_ms.fts = await timed(() =>
    t.createIndex("text", {
      config: lancedb.Index.fts({ withPosition: false, lowercase: true, stem: true, removeStopWords: true, asciiFolding: false }),
    }),
  );
  log(`${name}: btree index on id in ${Math.round(out.index_ms.btree)} ms, fts index on text in ${Math.round(out.index_ms.fts)} ms`);
  out.ops = await measure(t, name);
  await ivfPq(t, name, out, budget);
  result.arrangements.push(out);
}
print(result);
