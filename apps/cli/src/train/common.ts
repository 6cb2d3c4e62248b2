import { join } from 'node:path';
import { LORA_TARGETS, type LoraTarget } from '@rg/engine';
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
