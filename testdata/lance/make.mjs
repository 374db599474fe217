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

// The "types" tables: every column type flightwal reads, with nulls, empty
// and null lists, and data chosen so that Lance's 2.1/2.2 writer picks its
// various encodings (bit packing, RLE/constant, dictionary, FSST, full-zip
// for values over 256 bytes, multi-chunk mini-blocks). Two fragments, then
// a deletion. <name>.json holds LanceDB's own read-back, as above; binary
// values are hex strings, decimals their unscaled integer as a string; the
// column "big" is left out of it (its values are (3 id + k) % 256). Lance 12
// refuses null structs in a 2.0 file, so types_2_0 has none.
const TYPES_STORAGE = { types_2_0: "2.0", types_2_1: "2.1", types_2_2: "2.2" };
const utf8 = new arrow.Utf8();
const typesSchema = new Schema([
  new Field("id", new arrow.Int64(), false),
  new Field("i8", new arrow.Int8(), true),
  new Field("u16", new arrow.Uint16(), true),
  new Field("u32", new arrow.Uint32(), false),
  new Field("u64", new arrow.Uint64(), false),
  new Field("f16", new arrow.Float16(), true),
  new Field("dec", new arrow.Decimal(2, 18, 128), true),
  new Field("dec256", new arrow.Decimal(3, 40, 256), true),
  new Field("d64", new arrow.DateMillisecond(), true),
  new Field("t32", new arrow.TimeMillisecond(), true),
  new Field("t64", new arrow.TimeNanosecond(), true),
  new Field("dur", new arrow.Duration(arrow.TimeUnit.MICROSECOND), true),
  new Field("const", new arrow.Int64(), false),
  new Field("runs", new arrow.Int32(), false),
  new Field("low", utf8, true),
  new Field("text", utf8, true),
  new Field("long", utf8, true),
  new Field("lbin", new arrow.LargeBinary(), true),
  new Field("lstr", new arrow.LargeUtf8(), true),
  new Field("vec", new arrow.FixedSizeList(4, new Field("item", new arrow.Float32(), true)), true),
  new Field("big", new arrow.FixedSizeList(260, new Field("item", new arrow.Uint8(), true)), false),
  new Field("tags", new arrow.List(new Field("item", utf8, true)), true),
  new Field("nums", new arrow.List(new Field("item", new arrow.Int32(), true)), true),
  new Field("meta", new arrow.Struct([
    new Field("a", new arrow.Int32(), true),
    new Field("b", utf8, true),
    new Field("inner", new arrow.Struct([new Field("x", new arrow.Float64(), true)]), true),
  ]), true),
  new Field("dict", new arrow.Dictionary(utf8, new arrow.Int32()), true),
]);

const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
function typesBatch(lo, hi, nullStructs) {
  const ids = Array.from({ length: hi - lo }, (_, k) => lo + k);
  const col = (type, f) => vectorFromArray(ids.map(f), type);
  const wide = (i, words32) => { // a 128/256-bit two's complement integer as u32 words
    const out = new Uint32Array(words32);
    let v = BigInt(i) * 1000003n - 400000000n;
    if (v < 0n) v += 1n << BigInt(32 * words32);
    for (let w = 0; w < words32; w++) { out[w] = Number(v & 0xffffffffn); v >>= 32n; }
    return out;
  };
  const decimal = (type, words32, isNull) => {
    const data = new Uint32Array(ids.length * words32);
    ids.forEach((i, k) => data.set(wide(i, words32), k * words32));
    const bm = new Uint8Array(Math.ceil(ids.length / 8));
    let nulls = 0;
    ids.forEach((i, k) => (isNull(i) ? nulls++ : (bm[k >> 3] |= 1 << (k & 7))));
    return makeVector(makeData({ type, length: ids.length, data, nullBitmap: bm, nullCount: nulls }));
  };
  return new Table(typesSchema, {
    id: col(new arrow.Int64(), (i) => BigInt(i)),
    i8: col(new arrow.Int8(), (i) => (i % 9 === 4 ? null : (i % 200) - 100)),
    u16: col(new arrow.Uint16(), (i) => (i % 11 === 5 ? null : (i * 37) % 65536)),
    u32: col(new arrow.Uint32(), (i) => (i * 2654435761) % 4294967296),
    u64: col(new arrow.Uint64(), (i) => BigInt(i) * 1234567890123n),
    f16: col(new arrow.Float16(), (i) => (i % 13 === 6 ? null : i / 4)),
    dec: decimal(new arrow.Decimal(2, 18, 128), 4, (i) => i % 17 === 8),
    dec256: decimal(new arrow.Decimal(3, 40, 256), 8, (i) => i % 19 === 9),
    d64: col(new arrow.DateMillisecond(), (i) => (i % 23 === 10 ? null : new Date(1600000000000 + i * 86400000))),
    t32: col(new arrow.TimeMillisecond(), (i) => (i % 29 === 11 ? null : (i * 1000) % 86400000)),
    t64: col(new arrow.TimeNanosecond(), (i) => (i % 31 === 12 ? null : BigInt(i) * 1000001n)),
    dur: col(new arrow.Duration(arrow.TimeUnit.MICROSECOND), (i) => (i % 37 === 13 ? null : BigInt(i) * 7n - 100n)),
    const: col(new arrow.Int64(), () => 42n),
    runs: col(new arrow.Int32(), (i) => Math.floor(i / 100)),
    low: col(utf8, (i) => (i % 10 === 9 ? null : ["red", "green", "blue"][i % 3])),
    text: col(utf8, (i) => (i % 41 === 7 ? null : `${words[i % 8]} ${words[(i >> 3) % 8]} number ${i} of the ${words[(i * 7) % 8]} series, ${words[(i >> 2) % 8]} and ${words[(i * 3) % 8]} again`)),
    long: col(utf8, (i) => (i % 43 === 3 ? null : i % 25 === 0 ? `L${i}:` + "x".repeat(300) : `s${i}`)),
    lbin: col(new arrow.LargeBinary(), (i) => (i % 47 === 5 ? null : Uint8Array.from({ length: i % 6 }, (_, k) => (i + k) % 256))),
    lstr: col(new arrow.LargeUtf8(), (i) => (i % 53 === 6 ? null : `large-${i}`)),
    vec: col(typesSchema.fields[19].type, (i) => (i % 59 === 7 ? null : [i, i + 0.5, i % 61 === 1 ? null : -i, 1 / (i + 1)])),
    big: col(typesSchema.fields[20].type, (i) => Array.from({ length: 260 }, (_, k) => (i * 3 + k) % 256)),
    tags: col(typesSchema.fields[21].type, (i) => (i % 7 === 2 ? null : i % 7 === 3 ? [] :
      Array.from({ length: (i % 4) + 1 }, (_, k) => (k === 2 && i % 5 === 0 ? null : `t${i}.${k}`)))),
    nums: col(typesSchema.fields[22].type, (i) => (i % 9 === 1 ? null : i % 9 === 2 ? [] :
      Array.from({ length: i % 5 }, (_, k) => (k === 1 && i % 3 === 0 ? null : i * 10 + k)))),
    meta: col(typesSchema.fields[23].type, (i) => (nullStructs && i % 8 === 5 ? null : {
      a: i % 6 === 1 ? null : i * 3,
      b: i % 10 === 4 ? null : `m${i}`,
      inner: nullStructs && i % 12 === 7 ? null : { x: i % 5 === 0 ? null : i / 8 },
    })),
    dict: col(typesSchema.fields[24].type, (i) => (i % 6 === 0 ? null : words[i % 4])),
  });
}

function typesJSON(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return v.getTime();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (v instanceof Uint32Array) { // a decimal: unscaled two's complement
    let x = 0n;
    for (let w = v.length - 1; w >= 0; w--) x = (x << 32n) | BigInt(v[w]);
    if (x >> BigInt(32 * v.length - 1)) x -= 1n << BigInt(32 * v.length);
    return x.toString();
  }
  if (typeof v === "object" && typeof v.toJSON === "function") { // a list (Vector) or struct (StructRow)
    const j = v.toJSON();
    if (Array.isArray(j)) return j.map(typesJSON);
    return Object.fromEntries(Object.entries(j).map(([k, x]) => [k, typesJSON(x)]));
  }
  if (ArrayBuffer.isView(v)) return Array.from(v, typesJSON);
  return v;
}

for (const [name, storage] of Object.entries(TYPES_STORAGE)) {
  const opts = { storageOptions: { new_table_data_storage_version: storage } };
  let t;
  try {
    // Lance 12 refuses null structs in 2.0 files (no struct validity there).
    const nullStructs = storage !== "2.0";
    t = await db.createTable(name, typesBatch(0, 500, nullStructs), opts); // fragment 0
    await t.add(typesBatch(500, 600, nullStructs)); //                         fragment 1
    await t.delete("id % 7 = 3");
  } catch (e) {
    process.stdout.write(`${name}: ${e.message}\n`);
    continue;
  }
  const tbl = await t.query().toArrow();
  const names = tbl.schema.fields.map((f) => f.name);
  const out = [];
  for (let i = 0; i < tbl.numRows; i++) {
    // "big" (260 bytes a row) is left out: its values are (3 id + k) % 256.
    out.push(Object.fromEntries(names.filter((n) => n !== "big").map((n) => [n, typesJSON(tbl.getChild(n).get(i))])));
  }
  out.sort((a, b) => Number(a.id) - Number(b.id));
  const expected = {
    lancedb: lancedbVersion,
    data_storage_version: storage,
    version: await t.version(),
    countRows: await t.countRows(),
    schema: (await t.schema()).fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
    rows: out,
  };
  writeFileSync(join(outDir, `${name}.json`), format(expected));
  t.close();
}
process.stdout.write(`wrote ${outDir}\n`);
