import { join } from 'node:path';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_MODEL_FILE,
  AdapterFormatError,
  decodePeftAdapter,
  type LoraAdapter,
  SafetensorsError,
} from '@rg/lora';
import { findNonFinite, findShapeMismatch, type ModelDims } from './check.js';
import { type Row, sha256 } from './manifest.js';
import { AdapterStoreError, type FileRecord } from './store-types.js';

/** A manifest row and the adapter's display name, what every check below reports against. */
export interface StoredRow {
  row: Row;
  name: string;
}

/** Refuse non-finite weights (unless `values` is false) and, given the model's dimensions, modules that do not fit. */
export function checkContents(adapter: LoraAdapter, name: string, model: ModelDims | undefined, values = true): void {
  const problem = (values ? findNonFinite(adapter) : undefined) ?? (model ? findShapeMismatch(adapter, model) : undefined);
  if (problem) throw new AdapterStoreError(problem.kind, `${name}: ${problem.message}`);
}

/**
 * One file of an adapter under `root`, checked against the manifest's size and sha256 (`digest` if the reader
 * already hashed it). `read` returns (or throws) the bytes or the read error.
 */
export function checkedFile(root: string, hit: StoredRow, f: string, read: () => Buffer | Error, digest?: string): Buffer {
  const { row, name } = hit;
  const dir = join(root, row.path);
  const want = (JSON.parse(row.files) as Record<string, FileRecord>)[f];
  let bytes: Buffer | Error;
  try {
    bytes = read();
  } catch (e) {
    bytes = e as Error;
  }
  if (bytes instanceof Error) {
    const code = (bytes as NodeJS.ErrnoException).code;
    throw new AdapterStoreError('missing_file', `${name}: cannot read ${f} in ${dir} (${code ?? bytes.message})`);
  }
  if (bytes.byteLength !== want.bytes) {
    throw new AdapterStoreError(
      bytes.byteLength < want.bytes ? 'truncated' : 'hash_mismatch',
      `${name}: ${f} has ${bytes.byteLength} bytes, the manifest recorded ${want.bytes} (${bytes.byteLength < want.bytes ? 'truncated' : 'modified'}) in ${dir}`,
    );
  }
  const got = digest ?? sha256(bytes);
  if (got !== want.sha256) {
    throw new AdapterStoreError(
      'hash_mismatch',
      `${name}: ${f} has sha256 ${got}, the manifest recorded ${want.sha256} (file modified) in ${dir}`,
    );
  }
  return bytes;
}

/** Verified files to an adapter, checking its format and rank against the manifest. */
export function decodeStored(root: string, hit: StoredRow, data: Record<string, Buffer>, into?: LoraAdapter): LoraAdapter {
  const { row, name } = hit;
  const dir = join(root, row.path);
  let adapter: LoraAdapter;
  try {
    adapter = decodePeftAdapter(data[ADAPTER_CONFIG_FILE].toString('utf8'), data[ADAPTER_MODEL_FILE], dir, into);
  } catch (e) {
    if (e instanceof AdapterFormatError || e instanceof SafetensorsError)
      throw new AdapterStoreError('bad_format', `${name}: ${e.message}`);
    throw e;
  }
  if (adapter.config.rank !== row.rank) {
    throw new AdapterStoreError('wrong_rank', `${name}: its files hold rank ${adapter.config.rank}, the manifest says rank ${row.rank}`);
  }
  return adapter;
}
