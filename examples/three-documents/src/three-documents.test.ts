import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LoadedModel, loadModel } from '@rg/engine';
import { writeTinyModel } from '@rg/engine/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENTS, encodeAndIndex, type Knowledge, openAnswerer } from './three-documents.js';

// A tiny random model: its answers are noise, so this checks what reaches the model and that the adapters change
// its output, not what it knows (the demo, `rg demo`, measures that on SmolLM2).
const dir = mkdtempSync(join(tmpdir(), 'rg-three-documents-'));
let model: LoadedModel;
let knowledge: Knowledge;
const created: string[] = [];
beforeAll(async () => {
  model = await loadModel(writeTinyModel(join(dir, 'tiny-llama')));
  knowledge = await encodeAndIndex(model, dir, (key) => created.push(key.model));
});
afterAll(async () => {
  await knowledge?.close();
  rmSync(dir, { recursive: true, force: true });
});

const questions: Record<string, string> = {
  lighthouse: 'Who keeps the lighthouse on Varnholm Island?',
  festival: 'When does Quenwick hold the Blue Turnip Festival?',
  element: 'What colour does quorinium glow?',
};

describe('three documents, without the CLI', () => {
  it('encodes one adapter per document, from one base_weight', () => {
    expect(created).toEqual(['tiny-llama']);
    expect(knowledge.outcomes.map((o) => [o.id, o.status])).toEqual(DOCUMENTS.map((d) => [d.passageId, 'trained']));
    for (const d of DOCUMENTS) {
      expect(knowledge.store.get({ ...knowledge.scope, id: d.passageId })?.trainingConfig).toMatchObject({ documents: [d.passageId] });
    }
  });

  it('answers each question with the adapter of the document it is about', async () => {
    const { answerer, close } = await openAnswerer(model, knowledge, { method: 'cat_all_one', topk: 1 });
    try {
      for (const [id, question] of Object.entries(questions)) {
        const answer = await answerer.answer(question);
        expect(answer.retrieved.map((h) => h.id)).toEqual([id]);
        expect(answer.adapters).toEqual([id]);
        expect(answer.missingAdapters).toEqual([]);
        // cat_all_one puts no passage in the prompt: the knowledge has to come through the adapter.
        expect(answer.passages).toEqual([]);
        expect(typeof answer.text).toBe('string');
      }
    } finally {
      await close();
    }
  });

  it('applying the adapters changes the model’s scores of the answers; the base model alone scores as before', async () => {
    const choices = ['Green', 'Red', 'Blue'];
    const scores = async (method: 'cat_all_one' | 'oracle' | 'wo_param', goldDocIds?: string[]) => {
      const { answerer, close } = await openAnswerer(model, knowledge, { method, topk: 1 });
      try {
        const answer = await answerer.answer({ question: questions.element, choices, goldDocIds });
        return { adapters: answer.adapters, logLikelihoods: answer.labelLogLikelihoods! };
      } finally {
        await close();
      }
    };
    const base = await scores('wo_param');
    const retrieved = await scores('cat_all_one');
    // oracle applies the adapters named: another document's, and all three composed along the rank.
    const other = await scores('oracle', ['festival']);
    const all = await scores('oracle', ['element', 'festival', 'lighthouse']);
    expect([base.adapters, retrieved.adapters, other.adapters, all.adapters]).toEqual([
      [],
      ['element'],
      ['festival'],
      ['element', 'festival', 'lighthouse'],
    ]);
    // Trained adapters move B away from the base_weight's zeros, so the log-likelihoods move by more than float noise,
    // and differently for each adapter.
    const moved = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    expect(moved(retrieved.logLikelihoods, base.logLikelihoods)).toBeGreaterThan(1e-2);
    expect(moved(other.logLikelihoods, retrieved.logLikelihoods)).toBeGreaterThan(1e-2);
    expect(moved(all.logLikelihoods, retrieved.logLikelihoods)).toBeGreaterThan(1e-2);
    // Nothing stays applied after a request: the base model scores exactly as it did.
    expect((await scores('wo_param')).logLikelihoods).toEqual(base.logLikelihoods);
  });
});
