import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { AdapterDtype } from '@rg/lora';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_MODEL_FILE,
  AdapterFormatError,
  encodePeftAdapter,
  fsyncDir,
  type LoraAdapter,
  mkdirDurable,
  readPeftAdapter,
  writeFolderDurable,
} from '@rg/lora';
import { baseModelWarning } from './check.js';
import { type AdapterKey, type DocAdapterKey, describeKey, isDocKey } from './layout.js';
import { FILES } from './manifest.js';
import {
  AdapterStoreError,
  type ExportRecord,
  type ImportOptions,
  type LoadOptions,
  type ManifestEntry,
  type PutOptions,
  RG_ADAPTER_FILE,
} from './store-types.js';
import { checkContents } from './verify.js';

/** What export and import need of a store (its public reads and writes; no cycle with store.ts). */
export interface AdapterStoreAccess {
  load(key: AdapterKey, opts?: LoadOptions): LoraAdapter;
  get(key: AdapterKey): ManifestEntry | undefined;
  put(key: AdapterKey, adapter: LoraAdapter, opts: PutOptions): ManifestEntry;
}

/**
 * Copy an adapter's verified files into a new folder `dest`: a plain PEFT folder plus rg_adapter.json (key,
 * fingerprint, training config), which PEFT ignores and importAdapter reads.
 */
export function exportAdapter(
  store: AdapterStoreAccess,
  key: AdapterKey,
  dest: string,
  opts: LoadOptions & { dtype?: AdapterDtype } = {},
): ManifestEntry {
  const adapter = store.load(key, opts);
  const entry = store.get(key)!;
  if (existsSync(dest)) throw new AdapterStoreError('exists', `${dest} already exists: export writes a new folder`);
  let files: Record<string, Uint8Array>;
  if (!opts.dtype || opts.dtype === entry.dtype) {
    files = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(entry.path, f))]));
  } else {
    const enc = encodePeftAdapter(adapter, opts.dtype);
    files = { [ADAPTER_CONFIG_FILE]: enc.config, [ADAPTER_MODEL_FILE]: enc.model };
  }
  const record: ExportRecord = {
    key: entry.key,
    modelFingerprint: entry.modelFingerprint,
    mode: entry.mode,
    trainingConfig: entry.trainingConfig,
    createdAt: entry.createdAt,
  };
  files[RG_ADAPTER_FILE] = new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`);
  const target = resolve(dest);
  const staging = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  mkdirDurable(dirname(staging));
  writeFolderDurable(staging, files);
  renameSync(staging, target);
  fsyncDir(dirname(target));
  return entry;
}

/**
 * Put a PEFT LoRA folder into the store. Key, fingerprint and training config come from its rg_adapter.json when
 * it has one (an rg export); `given` fills in or overrides them.
 */
export function importAdapter(store: AdapterStoreAccess, dir: string, given: ImportOptions = {}): ManifestEntry & { warnings: string[] } {
  const adapter = readPeftAdapter(dir);
  let record: Partial<ExportRecord> = {};
  const sidecar = join(dir, RG_ADAPTER_FILE);
  if (existsSync(sidecar)) {
    try {
      record = JSON.parse(readFileSync(sidecar, 'utf8'));
    } catch (e) {
      throw new AdapterFormatError(`${sidecar}: not valid JSON (${(e as Error).message})`);
    }
  }
  const key: Partial<DocAdapterKey> = { ...record.key, ...given.key };
  if (!key.model) throw new AdapterStoreError('bad_format', `${dir}: no model given and no ${RG_ADAPTER_FILE} naming one`);
  const fullKey = { ...key, rank: key.rank ?? adapter.config.rank, alpha: key.alpha ?? adapter.config.alpha } as AdapterKey;
  if (isDocKey(fullKey)) {
    for (const f of ['dataset', 'lr', 'epochs'] as const) {
      if (fullKey[f] === undefined) throw new AdapterStoreError('bad_format', `${dir}: importing id "${fullKey.id}" needs its ${f}`);
    }
  }
  const modelFingerprint = given.modelFingerprint ?? record.modelFingerprint;
  if (!modelFingerprint)
    throw new AdapterStoreError('wrong_model', `${dir}: no model fingerprint given and no ${RG_ADAPTER_FILE} holding one`);
  const name = `${dir} (adapter ${describeKey(fullKey)})`;
  checkContents(adapter, name, given.model);
  const warning = baseModelWarning(adapter, fullKey.model, name);
  const entry = store.put(fullKey, adapter, {
    modelFingerprint,
    trainingConfig: given.trainingConfig ?? record.trainingConfig,
    mode: given.mode ?? record.mode,
    dtype: given.dtype,
  });
  return { ...entry, warnings: warning ? [warning] : [] };
}
