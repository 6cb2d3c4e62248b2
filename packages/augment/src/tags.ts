/**
 * The fields of an augmented record a retriever indexes beside the passage (`rg index build --augmented`): its tags
 * and description. A generator's own tags are used when it gave any; a record without tags (a small model whose
 * description + tags call failed, or data imported without them) gets the template's cheap ones, so every passage
 * of an augmented file has something to index.
 */
import type { AugmentedRecord } from './record.js';
import { templateTags } from './template.js';

export interface RetrievalFields {
  tags: string[];
  description: string;
  /** Where the tags came from: the record's generator, or derived from the passage by the template rules. */
  tagsFrom: 'generator' | 'template';
}

/** Trimmed, blanks dropped, case-insensitive duplicates removed (first spelling kept). */
function cleanTags(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const tag of tags.map((t) => t.trim().replace(/\s+/g, ' '))) {
    const key = tag.toLowerCase();
    if (tag === '' || seen.has(key)) continue;
    seen.add(key);
    out.push(tag);
  }
  return out;
}

export function retrievalFields(record: Pick<AugmentedRecord, 'passage' | 'tags' | 'description'>): RetrievalFields {
  const own = cleanTags(record.tags);
  const description = record.description.trim();
  if (own.length > 0) return { tags: own, description, tagsFrom: 'generator' };
  return { tags: cleanTags(templateTags(record.passage)), description, tagsFrom: 'template' };
}
