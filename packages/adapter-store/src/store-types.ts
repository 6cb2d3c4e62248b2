/** The adapter store's public types: keys' manifest entries, options, and the errors it raises. */

import type { AdapterDtype, LoraAdapter } from '@rg/lora';
import type { ModelDims } from './check.js';
import type { AdapterKey, DocAdapterKey } from './layout.js';

/** Trained weights, or the gradient at base_weight (composed as base_weight - gamma * gradient). */
export type AdapterMode = 'trained' | 'gradient';

export interface FileRecord {
  bytes: number;
  sha256: string;
}

export interface ManifestEntry {
  key: AdapterKey;
  /** Absolute path of the adapter folder (a PEFT LoRA folder). */
  path: string;
  /** Folder relative to the store root. */
  relPath: string;
  mode: AdapterMode;
  dtype: AdapterDtype;
  /** Bytes on disk (both files). */
  bytes: number;
  files: Record<string, FileRecord>;
  /** sha256 over the files' names and sha256s. */
  contentHash: string;
  /** The caller's fingerprint of the base model the adapter was trained for. */
  modelFingerprint: string;
  trainingConfig: Record<string, unknown>;
  createdAt: string;
}

/** What rg_adapter.json of an exported folder holds. */
export interface ExportRecord {
  key: AdapterKey;
  modelFingerprint: string;
  mode: AdapterMode;
  trainingConfig: Record<string, unknown>;
  createdAt: string;
}

export const RG_ADAPTER_FILE = 'rg_adapter.json';

/** What to fill in or override when importing a folder (rank and alpha default to its config). */
export interface ImportOptions {
  key?: Partial<DocAdapterKey>;
  /** The base model's dimensions: an adapter whose modules do not fit them is refused. */
  model?: ModelDims;
  modelFingerprint?: string;
  trainingConfig?: Record<string, unknown>;
  mode?: AdapterMode;
  dtype?: AdapterDtype;
}

export interface PutOptions {
  modelFingerprint: string;
  trainingConfig?: Record<string, unknown>;
  dtype?: AdapterDtype;
  mode?: AdapterMode;
  /** The base model's dimensions: an adapter whose modules do not fit them is refused. */
  model?: ModelDims;
}

export interface LoadOptions {
  /** When given, loading an adapter trained for another fingerprint fails. */
  modelFingerprint?: string;
  /**
   * When given, an adapter whose modules do not fit these dimensions fails, naming the adapter
   * and module (instead of an engine error deep inside inference that names neither).
   */
  model?: ModelDims;
}

export interface StoreOptions {
  /** Byte budget of the in-memory LRU of decoded adapters (fp32). Default 256 MiB. */
  cacheBytes?: number;
  /** How long a writer waits for another process's manifest lock. Default 30 s. */
  busyTimeoutMs?: number;
  /** Byte budget of file buffers kept for reuse by cold loads (see `lease`). Default 64 MiB. */
  poolBytes?: number;
  /**
   * Create the store when `root` holds none (default true). Read-only commands pass false, so a
   * mistyped path fails naming it instead of leaving a new empty store there.
   */
  create?: boolean;
}

/**
 * The k adapters of one request, lent by the store until `release()`. After that their memory may be reused by
 * later loads: whatever is kept (e.g. `composeCat`'s output, a copy) must be made before releasing.
 */
export interface AdapterLease {
  readonly adapters: LoraAdapter[];
  /** Idempotent. */
  release(): void;
}

export type AdapterProblem =
  | 'not_found'
  | 'missing_file'
  | 'truncated'
  | 'hash_mismatch'
  | 'bad_format'
  | 'wrong_model'
  | 'wrong_rank'
  | 'bad_values'
  | 'wrong_shape'
  | 'exists'
  | 'no_store';

export class AdapterStoreError extends Error {
  override name = 'AdapterStoreError';
  constructor(
    readonly problem: AdapterProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifyResult {
  entry: ManifestEntry;
  ok: boolean;
  problem?: AdapterProblem;
  message?: string;
  /** Doubts that do not fail the check (base_model_name_or_path naming another model). */
  warnings: string[];
}

export interface ListFilter {
  model?: string;
  rank?: number;
  alpha?: number;
  dataset?: string;
  lr?: number;
  epochs?: number;
  id?: string;
}
