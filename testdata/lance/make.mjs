// Writes small Lance datasets with the real Lance engine (LanceDB's npm
// package), one per data storage version it can write, for the Go tests in
// lance/testdata_test.go. See README.md here for how to regenerate:
//   NODE_PATH=<cache>/node/node_modules node make.mjs <out dir>
// writes <out dir>/lancedb-<LanceDB version>/<storage>.lance and, next to
// each, <storage>.json: what LanceDB itself reads back (the expected values).
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

// require honours NODE_PATH (ES module imports do not).
const require = createRequire(import.meta.url);
const lancedb = require("@lancedb/lancedb");
const arrow = require("apache-arrow");
// (package.json is not exported: read it beside the resolved entry point.)
const lancedbVersion = JSON.parse(readFileSync(
  join(dirname(require.resolve("@lancedb/lancedb")), "..", "package.json"), "utf8")).version;

// Data storage versions (file formats) written: "legacy" is format 0.1
// (the v1 file format; "0.1" is an alias), the others the v2 formats.
// Both LanceDB 0.31 and 0.39 accept all four; 0.31 writes 2.1 by default,
// 0.39 writes 2.2. 2.3 is accepted too but is flagged unstable; not kept.
const STORAGE = { legacy: "legacy", v2_0: "2.0", v2_1: "2.1", v2_2: "2.2" };

const { Field, Schema, Table, makeData, makeVector, vectorFromArray } = arrow;

const schema = new Schema([
  new Field("id", new arrow.Int64(), false),
  new Field("i32", new arrow.Int32(), true),
  new Field("f64", new arrow.Float64(), false),
  new Field("flag", new arrow.Bool(), true),
  new Field("name", new arrow.Utf8(), true),
  new Field("day", new arrow.DateDay(), false),
  new Field("ts", new arrow.TimestampMicrosecond("UTC"), false),
]);

// rows [lo, hi): every value is a function of the id; a few nulls.
function batch(lo, hi) {
  const ids = Array.from({ length: hi - lo }, (_, k) => lo + k);
  const n = ids.length;
  const validity = (isNull) => {
    const bm = new Uint8Array(Math.ceil(n / 8));
    let nulls = 0;
    ids.forEach((i, k) => (isNull(i) ? nulls++ : (bm[k >> 3] |= 1 << (k & 7))));
    return { nullBitmap: bm, nullCount: nulls };
  };
  const fixed = (type, data, isNull = () => false) =>
    makeVector(makeData({ type, length: n, data, ...validity(isNull) }));
  const bools = new Uint8Array(Math.ceil(n / 8));
  ids.forEach((i, k) => { if (i % 2 === 0) bools[k >> 3] |= 1 << (k & 7); });
  return new Table(schema, {
    id: fixed(new arrow.Int64(), BigInt64Array.from(ids, (i) => BigInt(i))),
    i32: fixed(new arrow.Int32(), Int32Array.from(ids, (i) => i * 100 - 300), (i) => i % 4 === 1),
    f64: fixed(new arrow.Float64(), Float64Array.from(ids, (i) => i * 1.5)),
    flag: makeVector(makeData({ type: new arrow.Bool(), length: n, data: bools, ...validity((i) => i % 5 === 2) })),
    name: vectorFromArray(ids.map((i) => (i % 3 === 2 ? null : `name-${i}`)), new arrow.Utf8()),
    day: fixed(new arrow.DateDay(), Int32Array.from(ids, (i) => 19000 + i)),
    // whole milliseconds, so JavaScript's epoch-ms numbers are exact
    ts: fixed(new arrow.TimestampMicrosecond("UTC"), BigInt64Array.from(ids, (i) => 1700000000000000n + BigInt(i) * 1000n)),
  });
}

// json turns one Arrow value into plain JSON: int64 as a decimal string,
// dates and timestamps as epoch milliseconds (apache-arrow's reading).
function json(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return v.getTime();
  return v;
}

function rows(table) {
  const names = table.schema.fields.map((f) => f.name);
  const out = [];
  for (let i = 0; i < table.numRows; i++) {
    out.push(Object.fromEntries(names.map((n) => [n, json(table.getChild(n).get(i))])));
  }
  return out.sort((a, b) => Number(a.id) - Number(b.id));
}

// format prints one key, or one row, a line.
function format(obj) {
  const lines = Object.entries(obj).filter(([k]) => k !== "rows")
    .map(([k, v]) => ` ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  lines.push(` "rows": [\n${obj.rows.map((r) => "  " + JSON.stringify(r)).join(",\n")}\n ]`);
  return `{\n${lines.join(",\n")}\n}\n`;
}

const outDir = join(process.argv[2] || ".", `lancedb-${lancedbVersion}`);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const db = await lancedb.connect(outDir);
for (const [name, storage] of Object.entries(STORAGE)) {
  const opts = { storageOptions: { new_table_data_storage_version: storage } };
  const t = await db.createTable(name, batch(0, 6), opts); // fragment 0: ids 0..5
  await t.add(batch(6, 10)); //                                fragment 1: ids 6..9
  await t.delete("id < 3"); //                                 a deletion file on fragment 0
  await t.createIndex("id", { config: lancedb.Index.btree() });
  const expected = {
    lancedb: lancedbVersion,
    data_storage_version: storage,
    version: await t.version(),
    countRows: await t.countRows(),
    schema: (await t.schema()).fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
    indices: (await t.listIndices()).map((ix) => ({ name: ix.name, indexType: ix.indexType, columns: ix.columns })),
    rows: rows(await t.query().toArrow()),
  };
  writeFileSync(join(outDir, `${name}.json`), format(expected));
  t.close();
}
process.stdout.write(`wrote ${outDir}\n`);
