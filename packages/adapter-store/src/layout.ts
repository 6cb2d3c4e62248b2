import { createHash } from 'node:crypto';

/**
 * Where an adapter lives under the store root:
 *   {model}/rank={r}_alpha={alpha}/base_weight/
 *   {model}/rank={r}_alpha={alpha}/{dataset}/lr={lr}_epoch={epochs}/{id}/
 * A key without `id` (and dataset, lr, epochs) is the shared base_weight of (model, rank, alpha).
 */
export interface BaseWeightKey {
  model: string;
  rank: number;
  alpha: number;
}

export interface DocAdapterKey extends BaseWeightKey {
  dataset: string;
  lr: number;
  epochs: number;
  /** Document or cluster id. */
  id: string;
}

export type AdapterKey = BaseWeightKey | DocAdapterKey;

export const BASE_WEIGHT_DIR = 'base_weight';

export class AdapterKeyError extends Error {
  override name = 'AdapterKeyError';
}

export function isDocKey(key: AdapterKey): key is DocAdapterKey {
  return 'id' in key && typeof key.id === 'string';
}

const MAX_SEGMENT = 100;
const KEPT_WHEN_TRUNCATED = 80;
const SAFE = /^[a-z0-9_.-]$/;

/**
 * A user string (model name, dataset, document id) as one path segment. Every byte outside
 * [a-z0-9_.-] is percent-encoded, uppercase letters included, so the mapping is injective even on
 * case-insensitive file systems; a leading "." is encoded so no segment is ".", ".." or hidden.
 * Long results keep a readable prefix plus "~" and a sha256 of the whole string ("~" never occurs
 * otherwise: it is encoded).
 */
export function escapeSegment(value: string, what: string): string {
  if (value.length === 0) throw new AdapterKeyError(`${what} is empty`);
  let out = '';
  for (const ch of value) {
    if (SAFE.test(ch) && !(out.length === 0 && ch === '.')) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length <= MAX_SEGMENT) return out;
  let cut = KEPT_WHEN_TRUNCATED;
  // Do not cut an escape in half.
  const pct = out.lastIndexOf('%', cut);
  if (pct > cut - 3) cut = pct;
  return `${out.slice(0, cut)}~${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

function checkNumber(value: number, what: string, integer: boolean): string {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new AdapterKeyError(
      `${what} is ${JSON.stringify(value)}, expected a ${integer ? 'non-negative integer' : 'non-negative number'}`,
    );
  }
  return String(value);
}

/** The adapter folder relative to the store root, '/'-separated. */
export function adapterRelPath(key: AdapterKey): string {
  if (!Number.isInteger(key.rank) || key.rank < 1)
    throw new AdapterKeyError(`rank is ${JSON.stringify(key.rank)}, expected a positive integer`);
  const group = `${escapeSegment(key.model, 'model')}/rank=${key.rank}_alpha=${checkNumber(key.alpha, 'alpha', false)}`;
  if (!isDocKey(key)) return `${group}/${BASE_WEIGHT_DIR}`;
  const dataset = escapeSegment(key.dataset, 'dataset');
  if (dataset === BASE_WEIGHT_DIR) throw new AdapterKeyError(`dataset "${BASE_WEIGHT_DIR}" is reserved for the shared base weight`);
  const run = `lr=${checkNumber(key.lr, 'lr', false)}_epoch=${checkNumber(key.epochs, 'epochs', false)}`;
  return `${group}/${dataset}/${run}/${escapeSegment(key.id, 'id')}`;
}

/** A short human name for messages: the id (or base_weight) and where it sits. */
export function describeKey(key: AdapterKey): string {
  const where = `model ${key.model}, rank ${key.rank}, alpha ${key.alpha}`;
  if (!isDocKey(key)) return `base_weight (${where})`;
  return `"${key.id}" (${where}, dataset ${key.dataset}, lr ${key.lr}, epochs ${key.epochs})`;
}
