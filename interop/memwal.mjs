// LanceDB 0.39's MemWAL (setLsmWriteSpec, mergeInsert through its shard
// writers, useLsm reads) against a table flightwal also writes. Usage:
//
//   node memwal.mjs <dir> <request.json>
//
// Requests (one per run; the answer is JSON on stdout):
//   {"op":"create","table":t,"key":"int"|"string","buckets":n}
//       a table (id, text) with primary key id and a bucket spec on it
//   {"op":"upsert","table":t,"groups":[[{"id","text"}...],...]}
//       one mergeInsert per group, each through a fresh table handle (a
//       handle keeps one shard writer open); no flush, no close: the
//       process exits with the rows only in the WAL. Answers one
//       {"ok":true} or {"error":msg} per group. With "flush": true, one
//       handle writes every group (all in one bucket) and then
//       closeLsmWriters flushes its memtable as a generation.
//   {"op":"hold","table":t,"first":[rows],"second":[rows],"ready":f,"go":g}
//       one handle: mergeInsert first, create file ready, wait for file
//       go, mergeInsert second (its shard writer still open); answers
//       {"first":..., "second":...} as upsert does
//   {"op":"bench","table":t,"dim":d,"rows":n,"batch":b,"lsm":bool}
//       a table (id, vector d floats, text) with an unsharded spec (lsm)
//       or none; n rows of random vectors and ~100-character texts, in
//       mergeInsert calls of b rows, one after another through one handle;
//       answers {"seconds": s} (the calls only)
//   {"op":"read","table":t,"filter":f}
//       getLsmWriteSpec, countRows, and the rows of a useLsm query
import { readFileSync } from "node:fs";
import { lancedb, arrow, toJSONValue } from "./common.mjs";

const [dir, reqFile] = process.argv.slice(2);
const req = JSON.parse(readFileSync(reqFile, "utf8"));
const db = await lancedb.connect(dir);

function schemaOf(key) {
  return new arrow.Schema([
    new arrow.Field("id", key === "string" ? new arrow.Utf8() : new arrow.Int64(), false),
    new arrow.Field("text", new arrow.Utf8(), true),
  ]);
}

async function rowsTable(t, rows) {
  const schema = await t.schema();
  const isInt = schema.fields[0].type.typeId === arrow.Type.Int;
  return lancedb.makeArrowTable(
    rows.map((r) => ({ id: isInt ? BigInt(r.id) : String(r.id), text: r.text ?? null })),
    { schema },
  );
}

let out;
switch (req.op) {
  case "create": {
    const t = await db.createEmptyTable(req.table, schemaOf(req.key), {
      storageOptions: { new_table_data_storage_version: "2.0" },
    });
    await t.setUnenforcedPrimaryKey("id");
    await t.setLsmWriteSpec({ specType: "bucket", column: "id", numBuckets: req.buckets, maintainedIndexes: [] });
    out = { spec: await t.getLsmWriteSpec() };
    break;
  }
  case "upsert": {
    out = [];
    const shared = req.flush ? await db.openTable(req.table) : null;
    for (const g of req.groups) {
      const t = shared ?? (await db.openTable(req.table));
      try {
        await t.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(await rowsTable(t, g));
        out.push({ ok: true });
      } catch (e) {
        out.push({ error: String(e.message ?? e) });
      }
    }
    if (shared) await shared.closeLsmWriters();
    break;
  }
  case "hold": {
    const { writeFileSync, existsSync } = await import("node:fs");
    const t = await db.openTable(req.table);
    const put = async (rows) => {
      try {
        await t.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(await rowsTable(t, rows));
        return { ok: true };
      } catch (e) {
        return { error: String(e.message ?? e) };
      }
    };
    out = { first: await put(req.first) };
    writeFileSync(req.ready, "ready");
    const deadline = Date.now() + 60000;
    while (!existsSync(req.go) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    out.second = await put(req.second);
    break;
  }
  case "bench": {
    const schema = new arrow.Schema([
      new arrow.Field("id", new arrow.Int64(), false),
      new arrow.Field("vector", new arrow.FixedSizeList(req.dim, new arrow.Field("item", new arrow.Float32(), true)), true),
      new arrow.Field("text", new arrow.Utf8(), true),
    ]);
    const t = await db.createEmptyTable(req.table, schema, { storageOptions: { new_table_data_storage_version: "2.0" } });
    await t.setUnenforcedPrimaryKey("id");
    if (req.lsm) await t.setLsmWriteSpec({ specType: "unsharded", maintainedIndexes: [] });
    const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"];
    const batches = [];
    for (let first = 0; first < req.rows; first += req.batch) {
      const rows = [];
      for (let id = first; id < Math.min(first + req.batch, req.rows); id++) {
        const v = new Float32Array(req.dim);
        for (let i = 0; i < req.dim; i++) v[i] = Math.random() * 2 - 1;
        let text = "";
        while (text.length < 100) text += (text ? " " : "") + words[(id * 7 + text.length) % words.length];
        rows.push({ id: BigInt(id), vector: Array.from(v), text });
      }
      batches.push(lancedb.makeArrowTable(rows, { schema }));
    }
    const start = process.hrtime.bigint();
    for (const b of batches) {
      await t.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(b);
    }
    out = { seconds: Number(process.hrtime.bigint() - start) / 1e9 };
    break;
  }
  case "read": {
    const t = await db.openTable(req.table);
    let q = t.query().useLsm(true);
    if (req.filter) q = q.where(req.filter);
    out = {
      spec: (await t.getLsmWriteSpec()) ?? null,
      countRows: await t.countRows(),
      rows: toJSONValue((await q.toArray()).map((r) => ({ id: r.id, text: r.text }))),
    };
    break;
  }
  default:
    throw new Error("unknown op " + req.op);
}
// The shard writers are never closed: what LanceDB acknowledged is only in
// its WAL, as after a crash. Exit once stdout is flushed (a pipe takes a
// large answer in pieces; exiting at once cut it at 64 KiB).
process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === "bigint" ? v.toString() : v)), () => process.exit(0));
