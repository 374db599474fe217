// Shared helpers of the interop scripts. Packages are loaded with require,
// which honours NODE_PATH (ES module imports do not), so the scripts run
// from interop/ against $FLIGHTWAL_CACHE/node/node_modules.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
export const lancedb = require("@lancedb/lancedb");
export const arrow = require("apache-arrow");

// toJSONValue turns Arrow values into plain JSON; int64 values become
// decimal strings so they stay exact.
export function toJSONValue(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (v instanceof Date) return v.getTime();
  if (ArrayBuffer.isView(v)) return Array.from(v, toJSONValue);
  if (Array.isArray(v)) return v.map(toJSONValue);
  if (typeof v === "object" && typeof v.toArray === "function") return Array.from(v.toArray(), toJSONValue);
  if (typeof v === "object" && typeof v.toJSON === "function") return toJSONValue(v.toJSON());
  if (typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJSONValue(x);
    return out;
  }
  return v;
}

// tableRows converts an Arrow table to an array of plain JSON rows.
export function tableRows(table) {
  const names = table.schema.fields.map((f) => f.name);
  const cols = names.map((n) => table.getChild(n));
  const rows = [];
  for (let i = 0; i < table.numRows; i++) {
    const row = {};
    names.forEach((n, j) => (row[n] = toJSONValue(cols[j].get(i))));
    rows.push(row);
  }
  return rows;
}

export function print(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}
