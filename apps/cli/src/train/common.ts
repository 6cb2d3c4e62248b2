import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { LORA_TARGETS, type LoraTarget, type ModelConfig, type ModelSource } from '@rg/engine';
import { InvalidArgumentError } from 'commander';

/** Where adapters go when --store is not given. */
export function defaultAdapterStore(home: string): string {
  return join(home, 'adapters');
}

/** "gate_proj,up_proj" → targets, each checked against the modules LoRA can target. */
export function targetList(value: string): LoraTarget[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = parts.filter((p) => !(LORA_TARGETS as readonly string[]).includes(p));
  if (parts.length === 0 || bad.length > 0)
    throw new InvalidArgumentError(`expected a comma-separated subset of ${LORA_TARGETS.join(', ')}`);
  return parts as LoraTarget[];
}

/**
 * What an adapter was trained for: the model's name (or file name) plus a hash of its architecture,
 * so a store refuses adapters of another model with the same name.
 */
export function modelFingerprint(config: ModelConfig, source: ModelSource): string {
  const name = source.name ?? source.path.split('/').pop() ?? source.path;
  return `${name}:${createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16)}`;
}

/** The store's model segment: the spec the user gave (a known name, or the file's base name). */
export function modelKeyName(source: ModelSource): string {
  return source.name ?? source.path.split('/').pop() ?? source.path;
}
