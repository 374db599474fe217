// Reads a Lance table with the real Lance engine (LanceDB) and prints JSON:
//   node read_dataset.mjs <db dir or s3://bucket/prefix> <table> '<query json>' ['<storage options json>']
// query: {"filters": [{"filter": "id < 5", "columns": ["id"]}],
//         "vector": {"column": "vec", "vector": [...], "k": 10, "columns": [...]}}
// Output: {"version", "countRows", "schema", "filters": [{"count", "rows"}],
//          "vectorRows"}; int64 values print as strings.
import { lancedb, print, tableRows } from "./common.mjs";

const [dir, name, queryJSON, storageJSON] = process.argv.slice(2);
const q = JSON.parse(queryJSON || "{}");
const db = storageJSON
  ? await lancedb.connect(dir, { storageOptions: JSON.parse(storageJSON) })
  : await lancedb.connect(dir);
const t = await db.openTable(name);
const out = {
  version: await t.version(),
  countRows: await t.countRows(),
  schema: (await t.schema()).fields.map((f) => ({
    name: f.name, type: String(f.type), nullable: f.nullable, metadata: Object.fromEntries(f.metadata),
  })),
  filters: [],
};
for (const f of q.filters || []) {
  let query = t.query().where(f.filter);
  if (f.columns) query = query.select(f.columns);
  out.filters.push({ count: await t.countRows(f.filter), rows: tableRows(await query.toArrow()) });
}
if (q.vector) {
  let query = t.vectorSearch(q.vector.vector).column(q.vector.column).limit(q.vector.k);
  if (q.vector.columns) query = query.select(q.vector.columns);
  out.vectorRows = tableRows(await query.toArrow()).map((r) => {
    r._distance = Math.round(r._distance * 1000) / 1000;
    return r;
  });
}
print(out);
