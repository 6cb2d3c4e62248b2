import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { macroF1 } from '../metrics.js';
import type { AnswerModel, ChatMessage } from '../model.js';
import { buildMessages } from '../prompts.js';
import { chooseLabel } from '../scoring.js';
import { CHEMPROT_LABELS, chemprotCorpus, removeChemProtMarks } from './chemprot.js';
import { DatasetError } from './errors.js';
import { loadDataset } from './registry.js';

const row = (text: string, label: string) => `${JSON.stringify({ text, label, metadata: [] })}\n`;

/** A data dir holding chemprot/{train,dev}.txt written from the given rows. */
function chemprotDir(files: Record<string, string>): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'rg-chemprot-'));
  mkdirSync(join(dataDir, 'chemprot'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dataDir, 'chemprot', name), content);
  return dataDir;
}

describe('removeChemProtMarks', () => {
  it('removes both marks with their inner spaces and leaves the sentence as written', () => {
    expect(removeChemProtMarks('At 4 hours, the << Ang II >>-induced rise; [[ valsartan ]], 51%.')).toBe(
      'At 4 hours, the Ang II-induced rise; valsartan, 51%.',
    );
    expect(removeChemProtMarks('<< EGFR >> inhibitors include [[ gefitinib ]] (Iressa).')).toBe(
      'EGFR inhibitors include gefitinib (Iressa).',
    );
  });

  it('keeps ">>" and "[[" that belong to the text, and handles the marks in either order', () => {
    expect(removeChemProtMarks('inhibit << HVA channels >> was [[ PGE2 ]]>PGE1>STA2>>17-phenyl-trinor-PGE2.')).toBe(
      'inhibit HVA channels was PGE2>PGE1>STA2>>17-phenyl-trinor-PGE2.',
    );
    expect(removeChemProtMarks('the << A3 receptor >> agonist [[ IB-MECA ]] (1-deoxy-1-6[[(3-iodophenyl) methyl]amino]-9)')).toBe(
      'the A3 receptor agonist IB-MECA (1-deoxy-1-6[[(3-iodophenyl) methyl]amino]-9)',
    );
    expect(removeChemProtMarks('order: [[ granisetron ]]> ondansetron >> << 5-HT3 >> x')).toBe(
      'order: granisetron> ondansetron >> 5-HT3 x',
    );
    expect(removeChemProtMarks('no marks at all')).toBe('no marks at all');
  });

  it('refuses a mark that is opened and never closed', () => {
    expect(() => removeChemProtMarks('the << Ang II rise; [[ valsartan ]]')).toThrow('"<<" opened at character 4 is never closed by ">>"');
  });
});

describe('chemprotCorpus', () => {
  it('one document per distinct train sentence, marks and labels gone, id = line of the first appearance', () => {
    const s = 'Epidermal growth factor receptor inhibitors include gefitinib and erlotinib.';
    const dataDir = chemprotDir({
      'train.txt': [
        row('<< Epidermal growth factor receptor >> inhibitors include [[ gefitinib ]] and erlotinib.', 'INHIBITOR'),
        row('<< Epidermal growth factor receptor >> inhibitors include gefitinib and [[ erlotinib ]].', 'INHIBITOR'),
        '\n',
        row('Rank order: << A >> was [[ B ]]>C>>D.', 'SUBSTRATE'),
        row('<< Epidermal growth factor receptor >> inhibitors include [[ gefitinib ]] and erlotinib.', 'ACTIVATOR'),
      ].join(''),
      'dev.txt': row('<< X >> blocks [[ Y ]].', 'INHIBITOR'),
    });
    const docs = chemprotCorpus(join(dataDir, 'chemprot'));
    expect(docs).toEqual([
      { id: 'chemprot-train-1', text: s },
      { id: 'chemprot-train-4', text: 'Rank order: A was B>C>>D.' },
    ]);
    // Dev sentences are questions, never documents.
    expect(docs.map((d) => d.text).join(' ')).not.toContain('blocks');
  });

  it('names the file, line and field of a sentence whose mark is never closed', () => {
    const dataDir = chemprotDir({ 'train.txt': row('<< A >> binds [[ B ]].', 'AGONIST') + row('<< A binds [[ B ]].', 'AGONIST') });
    const read = () => chemprotCorpus(join(dataDir, 'chemprot'));
    expect(read).toThrow(DatasetError);
    expect(read).toThrow(/train\.txt \(line 2, field "text"\): "<<" opened at character 0 is never closed by ">>"/);
  });
});

/** Records what the model was asked and likes the label `favourite` best, the others by length (shorter = likelier). */
class RecordingModel implements AnswerModel {
  calls: Array<{ messages: ChatMessage[]; continuations: string[] }> = [];
  constructor(private readonly favourite: string) {}
  async generate(): Promise<string> {
    throw new Error('ChemProt is answered by label likelihood, never generated');
  }
  async continuationLogLikelihoods(messages: ChatMessage[], continuations: string[]): Promise<number[]> {
    this.calls.push({ messages, continuations });
    return continuations.map((c) => (c === this.favourite ? 0 : -c.length));
  }
}

describe('ChemProt questions, prompt and label scoring', () => {
  // The pieces every method composes (buildMessages, then chooseLabel over the example's choices); the whole path
  // through rg bench e2e is exercised on a tiny model in apps/cli.
  it('the prompt holds the marked sentence, the 13 labels, and (RAG) the unmarked train sentence; all 13 are scored', async () => {
    const dataDir = chemprotDir({
      'train.txt': row('<< COX-2 >> is blocked by [[ celecoxib ]] in vitro.', 'INHIBITOR'),
      'dev.txt':
        row('[[ Celecoxib ]] inhibits << COX-2 >> activity.', 'INHIBITOR') + row('<< D2 >> is activated by [[ dopamine ]].', 'AGONIST'),
    });
    const dataset = loadDataset('chemprot', { dataDir, split: 'dev' });
    const [passage] = chemprotCorpus(join(dataDir, 'chemprot'));
    const model = new RecordingModel('INHIBITOR');
    const predictions: Array<{ prediction: string; score: number }> = [];
    for (const ex of dataset.examples) {
      const messages = buildMessages(ex.question, { instruction: dataset.instruction, passages: [passage] });
      const choice = await chooseLabel(model, messages, ex.choices!, null);
      expect(choice.logLikelihoods).toHaveLength(13);
      predictions.push({ prediction: choice.label, score: ex.answers.includes(choice.label) ? 1 : 0 });
    }

    const prompt = model.calls[0].messages.map((m) => m.content).join('\n');
    expect(prompt).toContain('Question: [[ Celecoxib ]] inhibits << COX-2 >> activity.');
    expect(prompt).toContain('Passage: COX-2 is blocked by celecoxib in vitro.');
    expect(prompt.startsWith(dataset.instruction!)).toBe(true);
    for (const label of CHEMPROT_LABELS) expect(dataset.instruction).toContain(label);
    expect(model.calls.map((c) => c.continuations)).toEqual([CHEMPROT_LABELS, CHEMPROT_LABELS]);
    expect(predictions.map((p) => [p.prediction, p.score])).toEqual([
      ['INHIBITOR', 1],
      ['INHIBITOR', 0],
    ]);
    // The closed label set is what makes evaluate report macro-F1 beside accuracy. Always answering the majority
    // label: accuracy 0.5, macro-F1 over the two labels seen = (2/3 + 0) / 2.
    expect(dataset).toMatchObject({ primaryMetric: 'accuracy', labels: CHEMPROT_LABELS });
    const golds = dataset.examples.map((e) => e.answers[0]);
    const answered = predictions.map((p) => p.prediction);
    expect(macroF1(answered, golds, dataset.labels)).toBeCloseTo(1 / 3, 12);
  });
});
