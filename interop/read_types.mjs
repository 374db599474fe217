// Reads a table of every column type with the real Lance engine (LanceDB)
// and prints JSON the way testdata/lance/make.mjs writes its "types"
// tables' expected rows (64-bit integers as decimal strings, binary as hex,
// decimals as their unscaled integer, lists as arrays, structs as objects):
//   node read_types.mjs <db dir> <table>...
// Output: {"tables": {<table>: {"version", "countRows", "schema", "rows"}}}
// (rows in id order).
import { lancedb, print } from "./common.mjs";

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

const [dir, ...names] = process.argv.slice(2);
const db = await lancedb.connect(dir);
const out = { tables: {} };
for (const name of names) {
  const t = await db.openTable(name);
  const tbl = await t.query().toArrow();
  const cols = tbl.schema.fields.map((f) => f.name);
  const rows = [];
  for (let i = 0; i < tbl.numRows; i++) {
    rows.push(Object.fromEntries(cols.map((n) => [n, typesJSON(tbl.getChild(n).get(i))])));
  }
  rows.sort((a, b) => Number(a.id) - Number(b.id));
  out.tables[name] = {
    version: await t.version(),
    countRows: await t.countRows(),
    schema: (await t.schema()).fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
    rows,
  };
  t.close();
}
print(out);
