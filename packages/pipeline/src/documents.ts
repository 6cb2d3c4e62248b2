import { contentHash } from '@rg/corpus';
import { reservedAdapterId } from '@rg/lora-trainer';
import { RequestError } from './errors.js';
import type { JobDocument } from './jobs.js';
import type { NewDocument } from './types.js';

/** Long enough that two different texts never meet in practice (64 bits of sha256), short enough to read in a URL. */
const DEFAULT_ID_HEX = 16;

/**
 * The document as its job records it: checked (non-empty text, an id that is a usable adapter id, flat metadata),
 * with its id settled: the one given, or the content hash (title + text, as the corpus store dedupes), so the same
 * text added twice is the same document.
 */
export function newDocument(doc: NewDocument): JobDocument {
  if (typeof doc.text !== 'string' || doc.text.trim() === '') throw new RequestError('addDocument', 'text', 'expected a non-empty string');
  if (doc.title !== undefined && typeof doc.title !== 'string') throw new RequestError('addDocument', 'title', 'expected a string');
  if (doc.id !== undefined && (typeof doc.id !== 'string' || doc.id.trim() === '' || doc.id.length > 1000))
    throw new RequestError('addDocument', 'id', `expected a non-empty string of at most 1000 characters, got ${JSON.stringify(doc.id)}`);
  const id = doc.id ?? contentHash(doc).slice(0, DEFAULT_ID_HEX);
  const reserved = reservedAdapterId(id);
  if (reserved) throw new RequestError('addDocument', 'id', `"${id}" is reserved for ${reserved}`);
  for (const [key, value] of Object.entries(doc.metadata ?? {})) {
    if (!['string', 'number', 'boolean'].includes(typeof value))
      throw new RequestError('addDocument', `metadata.${key}`, `expected a string, number or boolean, got ${typeof value}`);
  }
  return {
    id,
    text: doc.text,
    ...(doc.title !== undefined ? { title: doc.title } : {}),
    ...(doc.metadata ? { metadata: doc.metadata } : {}),
  };
}
