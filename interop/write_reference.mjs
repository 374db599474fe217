// Writes reference datasets with the real Lance engine (LanceDB), file
// format 2.0, for flightwal's Go reader to decode:
//   node write_reference.mjs <db dir>
// Every value is a function of the row number i; lance/interop_test.go
// computes the same formulas (keep the two in sync).
//   ref.lance: 5000 rows of every column type, appended in two writes
//              (two fragments), then rows with i % 10 == 3 deleted.
//   big.lance: 120000 rows (multi-page columns).
// Prints {"ref": {version, countRows}, "big": {...}} as JSON.
import { arrow, lancedb, print } from "./common.mjs";

const { makeData, makeVector, vectorFromArray, Table, Schema, Field } = arrow;

function validity(n, isNull) {
  const bm = new Uint8Array(Math.ceil(n / 8));
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) nulls++;
    else bm[i >> 3] |= 1 << (i & 7);
  }
  return { nullBitmap: nulls ? bm : undefined, nullCount: nulls };
}

// fixed builds a fixed-width column from a typed array (exact values).
function fixed(type, values, isNull = () => false) {
  return makeVector(makeData({ type, length: values.length, data: values, ...validity(values.length, isNull) }));
}

function refColumns(lo, hi) {
  const n = hi - lo;
  const ix = Array.from({ length: n }, (_, k) => lo + k);
  const cols = {};
  cols.id = fixed(new arrow.Int64(), BigInt64Array.from(ix, (i) => BigInt(i)));
  cols.i8 = fixed(new arrow.Int8(), Int8Array.from(ix, (i) => (i % 200) - 100));
  cols.i16 = fixed(new arrow.Int16(), Int16Array.from(ix, (i) => i * 3 - 7000));
  cols.i32n = fixed(new arrow.Int32(), Int32Array.from(ix, (i) => (i * 7) % 1000 - 500), (k) => ix[k] % 11 === 0);
  cols.u8 = fixed(new arrow.Uint8(), Uint8Array.from(ix, (i) => i % 256));
  cols.u32 = fixed(new arrow.Uint32(), Uint32Array.from(ix, (i) => i * 100000));
  cols.u64 = fixed(new arrow.Uint64(), BigUint64Array.from(ix, (i) => BigInt(i) * 1000000000000n));
  cols.f32 = fixed(new arrow.Float32(), Float32Array.from(ix, (i) => i * 0.5));
  cols.f64n = fixed(new arrow.Float64(), Float64Array.from(ix, (i) => i * 0.25 - 3), (k) => ix[k] % 17 === 0);
  const bools = new Uint8Array(Math.ceil(n / 8));
  ix.forEach((i, k) => { if (i % 3 === 0) bools[k >> 3] |= 1 << (k & 7); });
  cols.bn = makeVector(makeData({ type: new arrow.Bool(), length: n, data: bools, ...validity(n, (k) => ix[k] % 13 === 0) }));
  cols.s = vectorFromArray(ix.map((i) => (i % 19 === 0 ? null : `str-${i * 31}`)), new arrow.Utf8());
  cols.cat = vectorFromArray(ix.map((i) => (i % 23 === 0 ? null : ["red", "green", "blue"][i % 3])), new arrow.Utf8());
  cols.ls = vectorFromArray(ix.map((i) => "large-" + "x".repeat(i % 50)), new arrow.LargeUtf8());
  cols.bin = vectorFromArray(ix.map((i) => (i % 5 === 0 ? null : Uint8Array.of(i % 256, (i * 3) % 256))), new arrow.Binary());
  cols.d32 = fixed(new arrow.DateDay(), Int32Array.from(ix, (i) => i % 20000));
  cols.ts_ms = fixed(new arrow.TimestampMillisecond("UTC"), BigInt64Array.from(ix, (i) => 1700000000000n + BigInt(i) * 1000n));
  cols.ts_us = fixed(new arrow.TimestampMicrosecond(), BigInt64Array.from(ix, (i) => 1700000000000000n + BigInt(i)), (k) => ix[k] % 7 === 0);
  const dim = 16;
  const vecItems = Float32Array.from({ length: n * dim }, (_, j) => ix[Math.floor(j / dim)] + (j % dim) / 16);
  const vt = new arrow.FixedSizeList(dim, new Field("item", new arrow.Float32(), true));
  const child = makeData({ type: new arrow.Float32(), length: n * dim, data: vecItems });
  cols.vec = makeVector(makeData({ type: vt, length: n, child, ...validity(n, (k) => ix[k] % 29 === 0) }));
  cols.allnull = fixed(new arrow.Int32(), new Int32Array(n), () => true);
  return cols;
}

function bigColumns(lo, hi) {
  const n = hi - lo;
  const ix = Array.from({ length: n }, (_, k) => lo + k);
  const dim = 32;
  const vt = new arrow.FixedSizeList(dim, new Field("item", new arrow.Float32(), true));
  const child = makeData({ type: new arrow.Float32(), length: n * dim,
    data: Float32Array.from({ length: n * dim }, (_, j) => (ix[Math.floor(j / dim)] % 1000) + (j % dim)) });
  return {
    id: fixed(new arrow.Int64(), BigInt64Array.from(ix, (i) => BigInt(i))),
    s: vectorFromArray(ix.map((i) => (i % 100 === 0 ? null : `row ${i} ` + "y".repeat(i % 80))), new arrow.Utf8()),
    vec: makeVector(makeData({ type: vt, length: n, child })),
  };
}

const v20 = { storageOptions: { new_table_data_storage_version: "2.0" } };
const dir = process.argv[2];
const db = await lancedb.connect(dir);

const ref = await db.createTable("ref", new Table(refColumns(0, 3000)), v20);
await ref.add(new Table(refColumns(3000, 5000)));
await ref.delete("id % 10 = 3");

const big = await db.createTable("big", new Table(bigColumns(0, 120000)), v20);

print({
  ref: { version: await ref.version(), countRows: await ref.countRows() },
  big: { version: await big.version(), countRows: await big.countRows() },
});
