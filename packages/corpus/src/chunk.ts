import type { Document } from './store.js';

export interface ChunkOptions {
  /** Maximum tokens per chunk. Tokens here are whitespace-separated words: model-independent and stable. */
  tokens: number;
  /** Tokens shared by consecutive chunks, so a sentence cut at a boundary is whole in one of them. */
  overlap: number;
}

/**
 * Split a document into windows of `tokens` words advancing by `tokens - overlap`. A document that
 * fits in one window keeps its id; otherwise chunk i gets id `<id>#<i>` and records its parent.
 */
export function chunkDocument(doc: Document, opts: ChunkOptions): Document[] {
  if (!Number.isInteger(opts.tokens) || opts.tokens < 1)
    throw new RangeError(`chunk tokens must be a positive integer, got ${opts.tokens}`);
  if (!Number.isInteger(opts.overlap) || opts.overlap < 0 || opts.overlap >= opts.tokens) {
    throw new RangeError(`chunk overlap must be an integer in [0, ${opts.tokens - 1}], got ${opts.overlap}`);
  }
  const words = doc.text.split(/\s+/).filter(Boolean);
  if (words.length <= opts.tokens) return [doc];
  const step = opts.tokens - opts.overlap;
  const chunks: Document[] = [];
  for (let start = 0, i = 0; ; start += step, i++) {
    const end = Math.min(start + opts.tokens, words.length);
    chunks.push({
      id: `${doc.id}#${i}`,
      title: doc.title,
      text: words.slice(start, end).join(' '),
      metadata: { ...doc.metadata, parent_id: doc.id, chunk: i },
    });
    if (end === words.length) break;
  }
  return chunks;
}
