import { describe, expect, it } from 'vitest';
import { retrievalFields } from './tags.js';
import { templateTags } from './template.js';

const passage =
  'George James Rankin was an Australian soldier and politician. Rankin served in the House of Representatives ' +
  'and the Senate, representing the Country Party of Australia.';

describe('retrievalFields', () => {
  it("uses the generator's tags, cleaned: trimmed, blanks and case-insensitive repeats dropped", () => {
    const fields = retrievalFields({
      passage,
      tags: [' Senate ', '', 'politics', 'senate', 'Country  Party'],
      description: ' A senator. ',
    });
    expect(fields).toEqual({ tags: ['Senate', 'politics', 'Country Party'], description: 'A senator.', tagsFrom: 'generator' });
  });

  it('derives tags from the passage with the template rules when the record has none', () => {
    const fields = retrievalFields({ passage, tags: [], description: '' });
    expect(fields.tagsFrom).toBe('template');
    expect(fields.tags).toEqual(templateTags(passage));
    expect(fields.tags).toContain('George James Rankin');
    expect(fields.tags).toContain('House of Representatives');
    expect(fields.description).toBe('');
  });

  it('treats tags that are all blank as none', () => {
    expect(retrievalFields({ passage, tags: ['  ', ''], description: 'x' }).tagsFrom).toBe('template');
  });
});
