import { createHash } from 'node:crypto';
import type { ModelConfig } from './config.js';
import type { ModelSource } from './load.js';

/**
 * The model's name as adapters are filed under it: the known name the user gave, else the file or folder's base name.
 * Two copies of one model file in different folders share it, so their adapters are shared too.
 */
export function modelKeyName(source: ModelSource): string {
  return source.name ?? source.path.split('/').pop() ?? source.path;
}

/**
 * What an adapter was trained for: the model's name plus a hash of its architecture, so a store refuses adapters
 * of another model that happens to carry the same name.
 */
export function modelFingerprint(config: ModelConfig, source: ModelSource): string {
  return `${modelKeyName(source)}:${createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16)}`;
}
