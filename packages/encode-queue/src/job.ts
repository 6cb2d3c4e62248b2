import { createHash } from 'node:crypto';
import type { DocAdapterKey } from '@rg/adapter-store';
import type { EncodeOptions, RecipeRecord } from '@rg/lora-trainer';
import type { QueueTarget } from './connection.js';

/** Bumped when the job's shape changes: a worker refuses jobs of another version by name. */
export const JOB_FORMAT = 1;

/** The shared initial adapter every job starts from, identified by the sha256 of its stored files. */
export interface BaseWeightRef {
  /** sha256 of the stored base_weight's adapter_model.safetensors (the store manifest's). */
  sha256: string;
  /** sha256 of its adapter_config.json. */
  configSha256: string;
  rank: number;
  alpha: number;
  targets: string[];
}

/** Everything a worker needs to train one adapter exactly as `rg encode` would; no path of the coordinator's machine. */
export interface EncodeJobData {
  format: number;
  adapterId: string;
  records: RecipeRecord[];
  /** Extra trainingConfig fields (a cluster's number). */
  metadata?: Record<string, unknown>;
  /** Resolved recipe included. */
  options: EncodeOptions;
  scope: Omit<DocAdapterKey, 'id'>;
  /** `modelFingerprint` of @rg/engine: the worker's model must give the same. */
  modelFingerprint: string;
  baseWeight: BaseWeightRef;
}

/** What a worker returns; the adapter's bytes are in Redis under `resultKey` (binary, not inside the job's JSON). */
export interface EncodeJobResult {
  resultKey: string;
  /** sha256 and size of the PEFT adapter_model.safetensors (fp32) in `resultKey`. */
  sha256: string;
  bytes: number;
  examples: number;
  dropped: number;
  tokens: number;
  losses: number[];
  trainSeconds: number;
  worker: string;
}

export const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/**
 * The job's id: a hash of everything its adapter depends on (scope, id, records' content, options, model, base_weight),
 * never the document id itself (ids are user text; BullMQ's ids become parts of Redis keys). Adding a job whose id
 * is in the queue is a no-op in BullMQ, so a restarted coordinator cannot enqueue a document twice; a changed record
 * or recipe is a new job.
 */
export function jobIdOf(data: EncodeJobData): string {
  return `j${sha256(JSON.stringify([data.format, data.scope, data.adapterId, data.records, data.metadata ?? null, data.options, data.modelFingerprint, data.baseWeight])).slice(0, 40)}`;
}

/** Redis key of the base_weight's files, addressed by content (its sha256 is hex: safe in a key). */
export function baseWeightKey(target: QueueTarget, sha: string): string {
  return `${target.prefix}:${target.name}:rg-base:${sha}`;
}

/** Redis key of one attempt's result bytes (job ids are hashes, the token is random hex). */
export function resultKey(target: QueueTarget, jobId: string, token: string): string {
  return `${target.prefix}:${target.name}:rg-result:${jobId}:${token}`;
}

/** Results and base weights left behind (a coordinator that never came back) expire: 7 days. */
export const BLOB_TTL_SECONDS = 7 * 24 * 3600;
