import { describe, expect, it } from 'vitest';
import { CollectionSettingsError, createSettings, defaultCompose, defaultSettings } from './settings.js';

describe('collection settings', () => {
  it('compose adapters by retrieval score where the backend’s scores are positive, by their mean otherwise, unless told', () => {
    expect(defaultSettings('facts').answer.compose).toBe('score');
    expect(createSettings('/tmp/facts', {}).answer).toMatchObject({ compose: 'score', method: 'combine', k: 3 });
    expect(createSettings('/tmp/facts', { backend: 'hybrid' }).answer.compose).toBe('score');
    expect(createSettings('/tmp/facts', { backend: 'dense' }).answer.compose).toBe('mean');
    expect(createSettings('/tmp/facts', { backend: 'qdrant' }).answer.compose).toBe('mean');
    expect(createSettings('/tmp/facts', { backend: 'dense', answer: { compose: 'cat' } }).answer.compose).toBe('cat');
    expect(createSettings('/tmp/facts', { answer: { k: 5 } }).answer).toMatchObject({ compose: 'score', k: 5 });
    expect(defaultCompose('elasticsearch')).toBe('score');
    expect(defaultCompose('hnsw')).toBe('mean');
  });

  it('name the field a bad create setting is in', () => {
    expect(() => createSettings('/tmp/facts', { answer: { k: 0 } })).toThrow(CollectionSettingsError);
    expect(() => createSettings('/tmp/facts', { answer: { k: 0 } })).toThrow(/answer\.k/);
  });
});
