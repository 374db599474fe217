// The LanceDB side of lance.BenchmarkFormat22VsLanceDB: writes two tables
// in data storage version 2.2 with the real Lance engine (LanceDB), unless
// they exist, then times LanceDB reading them, and prints JSON.
//
//   node bench_format.mjs <db dir> <runs> <lookups>
//
// Tables (one fragment each): "vec" = 62,000 rows of id int64 and a
// 1024-dim float32 vector ((id % 977) + j); "small" = 1,000,000 rows of id
// int64, i32 (7 id % 1000), f64 (id / 2) and text ("row-<id>").
// Timed: a full scan (all columns, streamed batches; best of <runs>) and
// <lookups> single-row takeOffsets at pseudo-random offsets (each sample).
// Output: {"lancedb_version", "tables": {name: {"rows", "scan_ms": [...],
// "lookup_ms": [...], "lookup_offsets": [...]}}}
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";
import { lancedb, arrow, print } from "./common.mjs";

const require = createRequire(import.meta.url);

const [dir, runsArg, lookupsArg] = process.argv.slice(2);
const runs = Number(runsArg || 3);
const lookups = Number(lookupsArg || 200);
const log = (msg) => process.stderr.write(`lancedb: ${msg}\n`);
const { Field, Schema, makeData, makeVector, vectorFromArray, Table } = arrow;

function vecTable() {
  const n = 62000, dim = 1024;
  const ids = new BigInt64Array(n);
  const vals = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    ids[i] = BigInt(i);
    for (let j = 0; j < dim; j++) vals[i * dim + j] = (i % 977) + j;
  }
  const item = new Field("item", new arrow.Float32(), true);
  const fsl = new arrow.FixedSizeList(dim, item);
  const child = makeData({ type: new arrow.Float32(), length: n * dim, data: vals });
  const schema = new Schema([new Field("id", new arrow.Int64(), false), new Field("vec", fsl, false)]);
  return new Table(schema, {
    id: makeVector(makeData({ type: new arrow.Int64(), length: n, data: ids })),
    vec: makeVector(makeData({ type: fsl, length: n, child })),
  });
}

function smallTable() {
  const n = 1000000;
  const ids = new BigInt64Array(n), i32 = new Int32Array(n), f64 = new Float64Array(n);
  const text = new Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = BigInt(i); i32[i] = (7 * i) % 1000; f64[i] = i / 2; text[i] = `row-${i}`;
  }
  const schema = new Schema([
    new Field("id", new arrow.Int64(), false), new Field("i32", new arrow.Int32(), false),
    new Field("f64", new arrow.Float64(), false), new Field("text", new arrow.Utf8(), false),
  ]);
  return new Table(schema, {
    id: makeVector(makeData({ type: new arrow.Int64(), length: n, data: ids })),
    i32: makeVector(makeData({ type: new arrow.Int32(), length: n, data: i32 })),
    f64: makeVector(makeData({ type: new arrow.Float64(), length: n, data: f64 })),
    text: vectorFromArray(text, new arrow.Utf8()),
  });
}

let version = "unknown";
try {
  version = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve("@lancedb/lancedb")), "..", "package.json"), "utf8")).version;
} catch {
  // informational only
}
const db = await lancedb.connect(dir);
const names = await db.tableNames();
const out = { lancedb_version: version, tables: {} };
for (const [name, make] of [["vec", vecTable], ["small", smallTable]]) {
  if (!names.includes(name)) {
    const t0 = performance.now();
    const data = make();
    const t = await db.createTable(name, data, { storageOptions: { new_table_data_storage_version: "2.2" } });
    t.close();
    log(`wrote ${name} (${data.numRows} rows) in ${Math.round(performance.now() - t0)} ms`);
  }
  const t = await db.openTable(name);
  const rows = await t.countRows();
  const scan = [];
  for (let r = 0; r < runs + 1; r++) {
    const s = performance.now();
    let n = 0;
    for await (const b of t.query()) n += b.numRows;
    if (n !== rows) throw new Error(`scan of ${name}: ${n} rows, want ${rows}`);
    if (r > 0) scan.push(performance.now() - s);
  }
  const offsets = [];
  let x = 12345;
  for (let i = 0; i < lookups; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    offsets.push(x % rows);
  }
  const lookup = [];
  for (let i = 0; i < offsets.length + 5; i++) {
    const off = offsets[i % offsets.length];
    const s = performance.now();
    const tbl = await t.takeOffsets([off]).toArrow();
    const ms = performance.now() - s;
    if (tbl.numRows !== 1 || Number(tbl.getChild("id").get(0)) !== off) throw new Error(`take ${off} of ${name}`);
    if (i >= 5) lookup.push(ms);
  }
  out.tables[name] = { rows, scan_ms: scan, lookup_ms: lookup, lookup_offsets: offsets };
  t.close();
  log(`timed ${name}`);
}
print(out);
