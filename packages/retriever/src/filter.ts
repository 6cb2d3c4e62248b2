import type { Metadata } from './types.js';

const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Metadata keys become JSON paths and index field names: keep them to plain identifiers. */
export function checkFilterKeys(filter: Metadata | undefined): void {
  for (const key of Object.keys(filter ?? {})) {
    if (!KEY.test(key)) throw new RangeError(`filter key "${key}": expected letters, digits, "_" or "-" (starting with a letter or "_")`);
  }
}

/** SQL that keeps rows whose JSON metadata column has every key/value of `filter`. */
export function metadataClause(column: string, filter: Metadata | undefined): { sql: string; params: Array<string | number> } {
  checkFilterKeys(filter);
  const entries = Object.entries(filter ?? {});
  return {
    sql: entries.map(() => ` AND json_extract(${column}, ?) = ?`).join(''),
    // SQLite's JSON functions return true/false as 1/0.
    params: entries.flatMap(([k, v]) => [`$.${k}`, typeof v === 'boolean' ? Number(v) : v]),
  };
}
