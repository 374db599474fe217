// share_writer.mjs <dir> <table> <command> [json args]: LanceDB as a
// second writer of a table flightwal serves (the Go tests drive it;
// shared/API.md, "Other Lance writers"). Prints one JSON object.
//
// Commands:
//   loop {seconds, keyBase, dim, indexAfter}: until `seconds` pass, append
//     50 new rows per round at keys keyBase.., delete some of them, and
//     every other round run optimize(); after indexAfter rounds build an
//     IVF_PQ index on vec and an FTS index on text. Every operation that
//     fails is counted and its message kept (LanceDB retries commit
//     conflicts itself; what reaches here failed after its retries).
//   check {dim, probe, query}: listIndices(), an indexed vector query
//     (for query, else row probe's vector) and an FTS query, the
//     rows (id and text), and getLsmWriteSpec().
//   create {dim, rows}: create the table (data storage version 2.0) with
//     rows 0..rows-1.
//   optimize {}: optimize() once.
//   index {}: build the IVF_PQ index vec_idx and the FTS index text_idx.
//   lsmspec {}: set the unenforced primary key id and a bucket LSM spec.
//   getspec {}: getLsmWriteSpec() and listIndices().
import { lancedb, arrow, tableRows } from "./common.mjs";

const [dir, name, cmd, rawArgs] = process.argv.slice(2);
const args = rawArgs ? JSON.parse(rawArgs) : {};
const db = await lancedb.connect(dir);

// vec is row id's vector: pseudo-random components in [-1, 1) (a sine
// hash; the Go tests compute the same), so nearest neighbours are unique.
function vec(id, dim) {
  const v = [];
  for (let j = 0; j < dim; j++) {
    const x = Math.sin(id * 12.9898 + j * 78.233) * 43758.5453;
    v.push((x - Math.floor(x)) * 2 - 1);
  }
  return v;
}

function rows(first, n, dim, tag) {
  const ids = [], vecs = [], texts = [];
  for (let id = first; id < first + n; id++) {
    ids.push(BigInt(id));
    vecs.push(vec(id, dim));
    texts.push(`lance ${tag} row ${id} quick brown fox ${id % 7 === 0 ? "zebra" : "otter"}`);
  }
  const pk = new Map([["lance-schema:unenforced-primary-key", "true"]]);
  const schema = new arrow.Schema([
    new arrow.Field("id", new arrow.Int64(), false, pk),
    new arrow.Field("vec", new arrow.FixedSizeList(dim, new arrow.Field("item", new arrow.Float32(), true)), true),
    new arrow.Field("text", new arrow.Utf8(), true),
  ]);
  return arrow.tableFromArrays ? makeTable(schema, ids, vecs, texts) : null;
}

function makeTable(schema, ids, vecs, texts) {
  const idv = arrow.vectorFromArray(ids, new arrow.Int64());
  const vecv = arrow.vectorFromArray(vecs, schema.fields[1].type);
  const textv = arrow.vectorFromArray(texts, new arrow.Utf8());
  return new arrow.Table(schema, { id: idv, vec: vecv, text: textv });
}

const out = {};
if (cmd === "create") {
  const opts = args.storage ? { storageOptions: { new_table_data_storage_version: args.storage } } : {};
  const t = await db.createTable(name, rows(0, args.rows, args.dim, "create"), opts);
  out.version = await t.version();
} else if (cmd === "lsmspec") {
  const t = await db.openTable(name);
  try {
    await t.setUnenforcedPrimaryKey("id");
  } catch (e) {
    if (!/already set/.test(e.message)) throw e; // flightwal's schema marks id
  }
  // A table flightwal created already carries its spec (a bucket spec on
  // id in the MemWAL index): LanceDB refuses to replace it.
  if (!(await t.getLsmWriteSpec())) {
    await t.setLsmWriteSpec({ specType: "bucket", column: "id", numBuckets: 1, maintainedIndexes: [] });
  }
  out.spec = await t.getLsmWriteSpec();
} else if (cmd === "loop") {
  const t = await db.openTable(name);
  const until = Date.now() + args.seconds * 1000;
  const ops = { add: 0, delete: 0, optimize: 0, index: 0 };
  // Lance's "retryable" conflicts (say, an optimize whose fragments a
  // concurrent commit deleted from) are retried here, as Lance asks the
  // application to: up to 8 times with a growing pause, each counted.
  const conflicts = { add: 0, delete: 0, optimize: 0, index: 0 };
  const errors = [];
  let next = args.keyBase, round = 0, indexed = false;
  const attempt = async (op, fn) => {
    for (let i = 0; ; i++) {
      try {
        await fn();
        ops[op]++;
        return;
      } catch (e) {
        if (/Retryable commit conflict/.test(e.message) && i < 8) {
          conflicts[op]++;
          await new Promise((r) => setTimeout(r, 100 * (i + 1)));
          continue;
        }
        errors.push(`${op}: ${e.message.split("\n")[0]}`);
        return;
      }
    }
  };
  while (Date.now() < until) {
    round++;
    const first = next;
    next += 50;
    await attempt("add", () => t.add(rows(first, 50, args.dim, `r${round}`)));
    // Delete a fifth of what an earlier round added.
    if (round > 2) {
      const lo = first - 100;
      await attempt("delete", () => t.delete(`id >= ${lo} AND id < ${lo + 10}`));
    }
    if (!indexed && round >= args.indexAfter) {
      indexed = true;
      await attempt("index", () => t.createIndex("vec", {
        config: lancedb.Index.ivfPq({ numPartitions: 2, numSubVectors: 2, distanceType: "l2" }), name: "vec_idx",
      }));
      await attempt("index", () => t.createIndex("text", { config: lancedb.Index.fts(), name: "text_idx" }));
    }
    if (round % 2 === 0) await attempt("optimize", () => t.optimize());
  }
  out.ops = ops;
  out.conflicts = conflicts;
  out.errors = errors;
  out.rounds = round;
  out.nextKey = next;
} else if (cmd === "optimize") {
  const t = await db.openTable(name);
  await t.optimize();
  out.ok = true;
} else if (cmd === "index") {
  const t = await db.openTable(name);
  await t.createIndex("vec", {
    config: lancedb.Index.ivfPq({ numPartitions: 2, numSubVectors: 2, distanceType: "l2" }), name: "vec_idx",
  });
  await t.createIndex("text", { config: lancedb.Index.fts(), name: "text_idx" });
  out.indices = (await t.listIndices()).map((i) => ({ name: i.name, indexType: i.indexType, columns: i.columns }));
} else if (cmd === "getspec") {
  const t = await db.openTable(name);
  out.version = await t.version();
  try {
    out.lsmSpec = await t.getLsmWriteSpec();
  } catch (e) {
    out.lsmSpecError = e.message;
  }
  out.indices = (await t.listIndices()).map((i) => ({ name: i.name, indexType: i.indexType, columns: i.columns }));
} else if (cmd === "check") {
  const t = await db.openTable(name);
  out.version = await t.version();
  out.indices = (await t.listIndices()).map((i) => ({ name: i.name, indexType: i.indexType, columns: i.columns }));
  const q = args.query ?? vec(args.probe, args.dim);
  // flightwal's table carries a MemWAL spec (0.39 reads it through its LSM
  // scanner by default, which refuses indexes the spec does not maintain):
  // read the base table, which flightwal compacted everything into.
  const base = (q) => (typeof q.useLsm === "function" ? q.useLsm(false) : q);
  const near = await base(t.vectorSearch(q).column("vec").refineFactor(50).limit(3).select(["id"])).toArray();
  out.nearest = near.map((r) => String(r.id));
  try {
    const fts = await base(t.search("zebra", "fts", "text").limit(100000).select(["id"])).toArray();
    out.ftsCount = fts.length;
  } catch (e) {
    out.ftsCount = -1; // no FTS index
  }
  const all = await base(t.query().select(["id", "text"])).toArray();
  out.rows = all.map((r) => [String(r.id), r.text]);
  out.stats = {};
  for (const ix of out.indices) {
    const s = await t.indexStats(ix.name);
    out.stats[ix.name] = s ? { indexed: s.numIndexedRows, unindexed: s.numUnindexedRows } : null;
  }
  try {
    out.lsmSpec = await t.getLsmWriteSpec();
  } catch (e) {
    out.lsmSpecError = e.message;
  }
}
console.log(JSON.stringify(out, (k, v) => (typeof v === "bigint" ? v.toString() : v)));
