import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHEMPROT_LABELS } from '@rg/inference';
import { CHEMPROT_CORPUS_FILE, chemprotCorpusFile } from '@rg/pipeline/bench';
import { describe, expect, it } from 'vitest';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

describe('rg bench e2e flags', () => {
  it('needs a corpus for a jsonl dataset and rejects unknown datasets and bad k lists', async () => {
    const r = await runCli(['bench', 'e2e', '--dataset', 'squad', '--sample', '5'], { env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown dataset');
    const k = await runCli(['bench', 'e2e', '--dataset', 'popqa', '--sample', '5', '--cluster-k', '10,x'], { env: {} });
    expect(k.code).toBe(2);
    expect(k.stderr).toContain('--cluster-k: expected comma-separated positive integers, e.g. 10,50,100, or none, got "10,x"');
    for (const bad of ['0', '10,', '']) {
      const r = await runCli(['bench', 'e2e', '--dataset', 'popqa', '--sample', '5', '--cluster-k', bad], { env: {} });
      expect([r.code, r.stderr]).toEqual([
        2,
        `rg: error: --cluster-k: expected comma-separated positive integers, e.g. 10,50,100, or none, got "${bad}"\n`,
      ]);
    }
  });

  it('refuses the objective’s settings without their objective, as rg encode does', async () => {
    const r = await runCli(['bench', 'e2e', '--dataset', 'popqa', '--sample', '5', '--distill-topk', '8'], { env: {} });
    expect([r.code, r.stderr]).toEqual([2, 'rg: error: --distill-topk: only with --objective distill or both\n']);
  });

  it('takes --split dev, test or all, and refuses a split the dataset does not have', async () => {
    const train = await runCli(['bench', 'e2e', '--dataset', 'pubmedqa', '--sample', '5', '--split', 'train'], { env: {} });
    expect(train.code).toBe(2);
    expect(train.stderr).toContain('--split: expected one of dev, test, all, got "train"');
    const file = join(mkdtempSync(join(tmpdir(), 'rg-e2e-split-')), 'q.jsonl');
    writeFileSync(file, '{"question": "q?", "answer": "a"}\n');
    const jsonl = await runCli(['bench', 'e2e', '--dataset', `jsonl:${file}`, '--sample', '1', '--split', 'dev'], { env: {} });
    expect(jsonl.code).toBe(2);
    expect(jsonl.stderr).toContain('unknown split "dev" (expected all)');
  });
});

const DEMO = resolve(import.meta.dirname, '../../demo');

/** A fresh folder with the first `n` demo documents (corpus.jsonl) and the demo questions about them (questions.jsonl). */
function demoSubset(prefix: string, n: number): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const lines = readFileSync(join(DEMO, 'corpus.jsonl'), 'utf8').trim().split('\n').slice(0, n);
  const ids = lines.map((l) => JSON.parse(l).id as string);
  writeFileSync(join(dir, 'corpus.jsonl'), `${lines.join('\n')}\n`);
  const questions = readFileSync(join(DEMO, 'questions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => ids.includes(JSON.parse(l).gold_doc_ids[0]));
  writeFileSync(join(dir, 'questions.jsonl'), `${questions.join('\n')}\n`);
  return dir;
}

// The wiring of every step, on a tiny random model (its scores are noise) and the real sentence encoder for k-means.
describe('rg bench e2e on a tiny model (two questions, a few demo documents)', () => {
  it('fills every column (DAPT, clusters per k, n/a where k exceeds the documents) and skips finished work when run again', async () => {
    const dir = demoSubset('rg-e2e-', 4);
    const out = join(dir, 'out');
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const args = [
      '--model',
      model,
      'bench',
      'e2e',
      '--dataset',
      `jsonl:${join(dir, 'questions.jsonl')}`,
      '--corpus',
      join(dir, 'corpus.jsonl'),
    ];
    args.push('--sample', '2', '--seed', '1', '--topk', '1', '--qa', '2', '--lr', '1e-3', '--cluster-k', '1,2,9', '--representatives', '1');
    args.push('--out', out, '--json');
    const env = { RG_THREADS: '2' };

    const first = await runCli(args, { env });
    expect(first.code, first.stderr).toBe(0);
    const figures = JSON.parse(first.stdout);
    expect(figures.columns.map((c: { title: string }) => c.title)).toEqual([
      'base',
      'DAPT',
      'RAG',
      'RG',
      'RG+RAG',
      'cluster k=1',
      'cluster k=2',
      'cluster k=9',
    ]);
    // The document vectors are computed for the first k and reused by the next.
    expect(first.stderr.match(/embedded \d+ documents/g)).toHaveLength(1);
    const column = (title: string) => figures.columns.find((c: { title: string }) => c.title === title);
    const documents = readFileSync(join(out, 'encode-docs.jsonl'), 'utf8').trim().split('\n').length;
    expect(column('RG').costs).toMatchObject({ adapters: documents, documents });
    expect(column('RG').costs.encodeSecondsPerDocument).toBeGreaterThan(0);
    expect(column('DAPT').costs).toMatchObject({ adapters: 1, documents });
    expect(column('cluster k=1').costs).toMatchObject({ adapters: 1, documents });
    expect(column('cluster k=2').costs).toMatchObject({ adapters: 2, documents });
    expect(column('cluster k=9')).toMatchObject({ score: null, costs: null, why: `k=9 exceeds the ${documents} documents to cluster` });
    for (const title of ['base', 'DAPT', 'RAG', 'RG', 'RG+RAG', 'cluster k=1', 'cluster k=2']) {
      expect(column(title).metrics.n).toBe(2);
      expect(column(title).latencyMsPerQuestion).toBeGreaterThan(0);
    }
    // What each column applied: the DAPT adapter for every question, the only cluster's adapter for k=1.
    const runs = join(out, 'output', 'tiny-llama', 'rank=2_alpha=32', 'questions', 'lr=0.001_epoch=1');
    const dapt = JSON.parse(readFileSync(join(runs, 'dapt', 'predict.json'), 'utf8'));
    expect(dapt.map((p: { adapters: string[] }) => p.adapters)).toEqual([['dapt'], ['dapt']]);
    const clusterRuns = join(out, 'output', 'cluster-k=1', 'tiny-llama', 'rank=2_alpha=32', 'questions', 'lr=0.001_epoch=1');
    const cluster = JSON.parse(readFileSync(join(clusterRuns, 'cluster', 'predict.json'), 'utf8'));
    expect(cluster.map((p: { adapters: string[] }) => p.adapters)).toEqual([['cluster-k1-0'], ['cluster-k1-0']]);
    // Retrieval against the questions' gold documents, from RAG's retrieved ids (RG composed the same ones).
    const gold = new Map(
      readFileSync(join(dir, 'questions.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map((q: { id: string; gold_doc_ids: string[] }) => [q.id, q.gold_doc_ids]),
    );
    const rag = JSON.parse(readFileSync(join(runs, 'icl', 'predict.json'), 'utf8'));
    const found = rag.filter((p: { id: string; retrievedIds: string[] }) => gold.get(p.id)?.includes(p.retrievedIds[0])).length;
    expect(figures.retrieval).toEqual({ k: 1, questions: 2, anyGoldInTopK: found, goldAtRank1: found, allGoldInTopK: found });
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    expect(table).toContain(`Retrieval (top 1): a gold document among them for ${found} of 2`);
    expect(table).toContain('| model | base | DAPT | RAG | RG | RG+RAG | cluster k=1 | cluster k=2 | cluster k=9 |');
    expect(table).toContain('| tiny-llama | ');
    // Intervals from the per-question scores of predict.json, in figures.json, table.md and chart.svg.
    expect(figures).toMatchObject({ split: 'all', bootstrap: { resamples: 2000, seed: 1, level: 0.95 } });
    for (const title of ['base', 'DAPT', 'RAG', 'RG', 'RG+RAG', 'cluster k=1', 'cluster k=2']) {
      const c = column(title);
      expect(c.interval.low).toBeLessThanOrEqual(c.score);
      expect(c.interval.high).toBeGreaterThanOrEqual(c.score);
      expect(c.vsBase === null).toBe(title === 'base');
      expect(c.vsRag === null).toBe(title === 'RAG');
    }
    expect(column('RG').vsBase.estimate).toBeCloseTo(column('RG').score - column('base').score, 12);
    expect(column('cluster k=9')).toMatchObject({ interval: null, vsBase: null, vsRag: null });
    expect(figures.methods.wo_param.interval).toEqual(column('base').interval);
    expect(table).toContain('minus base [95% interval]');
    expect(table).toContain('accuracy on 2 questions (split: all).');
    const chart = readFileSync(join(out, 'chart.svg'), 'utf8');
    expect(chart.match(/<circle /g)).toHaveLength(7);
    expect(chart).toContain('tiny-llama on questions (2 questions, all split)');

    const again = await runCli(args, { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`encoded 0, skipped ${documents} (already stored)`);
    expect(again.stderr).toContain(`DAPT adapter already stored for these ${documents} passages`);
    expect(again.stderr).toContain('cluster adapters for k=1: trained 0, skipped 1');
    expect(again.stderr).toContain('cluster adapters for k=2: trained 0, skipped 2');
    const second = JSON.parse(again.stdout);
    expect(second.columns.map((c: { score: number | null }) => c.score)).toEqual(
      figures.columns.map((c: { score: number | null }) => c.score),
    );
    expect(second.columns.map((c: { costs: unknown }) => c.costs)).toEqual(figures.columns.map((c: { costs: unknown }) => c.costs));
    // Seconds on an idle machine; the long timeout is for a shared one.
  }, 600_000);

  it('passes the recipe and the composition to encode and infer, and leaves DAPT out with --no-dapt', async () => {
    const dir = demoSubset('rg-e2e-recipe-', 3);
    const out = join(dir, 'out');
    const args = ['--model', writeTinyModel(join(dir, 'tiny-llama')), 'bench', 'e2e', '--dataset', `jsonl:${join(dir, 'questions.jsonl')}`];
    args.push('--corpus', join(dir, 'corpus.jsonl'), '--sample', '2', '--topk', '2', '--cluster-k', 'none', '--no-dapt');
    args.push('--examples', 'passage', '--loss', 'all', '--compose', 'mean', '--out', out, '--json');

    const r = await runCli(args, { env: { RG_THREADS: '2' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('encode the DAPT baseline: skipped (--no-dapt was given)');
    expect(r.stderr).toContain('--examples passage --loss all');
    const figures = JSON.parse(r.stdout);
    expect(figures.settings).toMatchObject({ examples: 'passage', loss: 'all', compose: 'mean', dapt: false });
    expect(figures.methods.dapt).toBeUndefined();
    const dapt = figures.columns.find((c: { title: string }) => c.title === 'DAPT');
    expect(dapt).toMatchObject({ score: null, why: '--no-dapt was given' });
    // Each question's retrieved adapters are weighted 1/k (the tiny corpus has an adapter for every document).
    const rg = JSON.parse(
      readFileSync(
        join(out, 'output', 'tiny-llama', 'rank=2_alpha=32', 'questions', 'lr=0.0003_epoch=1', 'cat_all_one-mean', 'predict.json'),
        'utf8',
      ),
    );
    for (const p of rg) expect(p.adapterWeights).toEqual(p.adapters.map(() => 1 / p.adapters.length));
    expect(figures.load.start).toHaveLength(3);
  }, 600_000);

  it('augments with an OpenAI-compatible server (rg augment’s --llm-url / --llm-model), records the model, never the key', async () => {
    const dir = demoSubset('rg-e2e-openai-', 2);
    const passages = readFileSync(join(dir, 'corpus.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).text as string);
    const auth = new Set<string | undefined>();
    let calls = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (req.method === 'GET') {
          res.writeHead(404).end(); // the start-up probe
          return;
        }
        calls++;
        auth.add(req.headers.authorization);
        const prompt: string = JSON.parse(body).messages.at(-1).content;
        const passage = passages.find((t) => prompt.includes(t)) ?? '';
        const word = passage.split(' ')[0];
        const content = prompt.includes('Rewrite this passage')
          ? passage.split('. ').reverse().join('. ')
          : prompt.includes('questions')
            ? JSON.stringify([{ question: 'Which word comes first?', answer: word }])
            : JSON.stringify({ description: passage.split('. ')[0], tags: passage.split(' ').slice(1, 3) });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { content } }] }));
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const out = join(dir, 'out');
      const args = [
        '--model',
        writeTinyModel(join(dir, 'tiny-llama')),
        'bench',
        'e2e',
        '--dataset',
        `jsonl:${join(dir, 'questions.jsonl')}`,
      ];
      args.push('--corpus', join(dir, 'corpus.jsonl'), '--sample', '1', '--topk', '1', '--cluster-k', 'none', '--no-dapt');
      args.push('--generator', 'openai', '--llm-url', url, '--llm-model', 'teacher-7b', '--qa', '1', '--out', out, '--json');
      const r = await runCli(args, { env: { RG_THREADS: '2', RG_LLM_API_KEY: 'sk-e2e-SECRET' } });
      expect(r.code, r.stderr).toBe(0);
      expect(calls).toBeGreaterThan(0);
      expect([...auth]).toEqual(['Bearer sk-e2e-SECRET']);
      const figures = JSON.parse(r.stdout);
      expect(figures.settings).toMatchObject({ generator: 'openai', llmModel: 'teacher-7b', qa: 1 });
      const augmented = readFileSync(join(out, 'augmented.jsonl'), 'utf8');
      expect(augmented).toContain('Which word comes first?');
      for (const text of [r.stdout, r.stderr, readFileSync(join(out, 'figures.json'), 'utf8')]) expect(text).not.toContain('SECRET');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    }
  }, 600_000);
});

const chemprotRow = (text: string, label: string) => `${JSON.stringify({ text, label, metadata: [] })}\n`;

/** A data dir with chemprot/{train,dev}.txt as the release lays them out: each sentence once per marked pair. */
function chemprotData(dir: string): string {
  const dataDir = join(dir, 'data');
  mkdirSync(join(dataDir, 'chemprot'), { recursive: true });
  const train = [
    chemprotRow('<< COX-2 >> activity was blocked by [[ celecoxib ]] and rofecoxib.', 'INHIBITOR'),
    chemprotRow('<< COX-2 >> activity was blocked by celecoxib and [[ rofecoxib ]].', 'INHIBITOR'),
    chemprotRow('[[ Dopamine ]] activated the << D2 receptor >> in striatal cells.', 'AGONIST'),
    chemprotRow('<< CYP3A4 >> converts [[ midazolam ]] to 1-hydroxymidazolam.', 'SUBSTRATE'),
    chemprotRow('<< CYP3A4 >> converts midazolam to [[ 1-hydroxymidazolam ]].', 'PRODUCT-OF'),
    chemprotRow('Rank order at << EP3 >> was [[ sulprostone ]]>PGE2>>PGE1.', 'AGONIST'),
  ];
  writeFileSync(join(dataDir, 'chemprot', 'train.txt'), train.join(''));
  const dev = [
    chemprotRow('[[ Celecoxib ]] inhibits << COX-2 >> in platelets.', 'INHIBITOR'),
    chemprotRow('<< D2 receptor >> agonists such as [[ dopamine ]] lower prolactin.', 'AGONIST'),
    chemprotRow('<< CYP3A4 >> metabolises [[ midazolam ]] in the liver.', 'SUBSTRATE'),
  ];
  writeFileSync(join(dataDir, 'chemprot', 'dev.txt'), dev.join(''));
  return dataDir;
}

describe('rg bench e2e --dataset chemprot', () => {
  it('writes the corpus from train.txt once, and again only when train.txt changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-e2e-chemprot-corpus-'));
    const chemprot = join(chemprotData(dir), 'chemprot');
    const out = join(dir, 'out');
    const file = chemprotCorpusFile(chemprot, out);
    expect(file).toBe(join(out, CHEMPROT_CORPUS_FILE));
    const docs = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(docs).toEqual([
      { id: 'chemprot-train-1', text: 'COX-2 activity was blocked by celecoxib and rofecoxib.' },
      { id: 'chemprot-train-3', text: 'Dopamine activated the D2 receptor in striatal cells.' },
      { id: 'chemprot-train-4', text: 'CYP3A4 converts midazolam to 1-hydroxymidazolam.' },
      { id: 'chemprot-train-6', text: 'Rank order at EP3 was sulprostone>PGE2>>PGE1.' },
    ]);
    // Same content: the file is left alone, so ingest's checkpoint (bytes and mtime) still matches on a resumed run.
    const written = statSync(file).mtimeMs;
    chemprotCorpusFile(chemprot, out);
    expect(statSync(file).mtimeMs).toBe(written);
    writeFileSync(join(chemprot, 'train.txt'), chemprotRow('<< A >> binds [[ B ]].', 'AGONIST'));
    chemprotCorpusFile(chemprot, out);
    expect(readFileSync(file, 'utf8')).toBe('{"id":"chemprot-train-1","text":"A binds B."}\n');
  });

  // The wiring on a tiny random model: its scores are noise, what is checked is what reaches each step.
  it('answers dev sentences by label likelihood over the 13 labels, with adapters of train sentences, macro-F1 beside accuracy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-e2e-chemprot-'));
    const dataDir = chemprotData(dir);
    const out = join(dir, 'out');
    const args = ['--model', writeTinyModel(join(dir, 'tiny-llama')), 'bench', 'e2e', '--dataset', 'chemprot', '--data-dir', dataDir];
    args.push('--split', 'dev', '--sample', '3', '--topk', '2', '--qa', '1', '--cluster-k', '1', '--representatives', '1');
    args.push('--out', out, '--json');

    const r = await runCli(args, { env: { RG_THREADS: '2' } });
    expect(r.code, r.stderr).toBe(0);
    const figures = JSON.parse(r.stdout);
    expect(figures).toMatchObject({ dataset: 'chemprot', split: 'dev', questions: 3 });
    expect(figures.columns.map((c: { title: string }) => c.title)).toEqual(['base', 'DAPT', 'RAG', 'RG', 'RG+RAG', 'cluster k=1']);
    // The ingested corpus is the 4 distinct train sentences; adapters are trained on those the questions retrieve.
    const corpusIds = readFileSync(join(out, CHEMPROT_CORPUS_FILE), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).id);
    expect(corpusIds).toEqual(['chemprot-train-1', 'chemprot-train-3', 'chemprot-train-4', 'chemprot-train-6']);
    const encoded = readFileSync(join(out, 'encode-docs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(encoded.length).toBeGreaterThan(0);
    for (const d of encoded) {
      expect(corpusIds).toContain(d.id);
      expect(d.text).not.toMatch(/<< | >>|\[\[ | \]\]/);
    }
    expect(figures.columns.find((c: { title: string }) => c.title === 'RG').costs).toMatchObject({ adapters: encoded.length });
    // No gold documents in ChemProt: no oracle.
    expect(figures.methods.oracle).toBeUndefined();
    for (const c of figures.columns) expect(c.metrics.macroF1, c.title).toBeGreaterThanOrEqual(0);

    // Every question is its marked sentence, answered with one of the 13 labels, each scored.
    const runs = join(out, 'output', 'tiny-llama', 'rank=2_alpha=32', 'chemprot', 'lr=0.0003_epoch=1');
    for (const method of ['wo_param', 'combine']) {
      const predictions = JSON.parse(readFileSync(join(runs, method, 'predict.json'), 'utf8'));
      expect(predictions).toHaveLength(3);
      for (const p of predictions) {
        expect(p.question).toMatch(/<< .+ >>/);
        expect(p.question).toMatch(/\[\[ .+ \]\]/);
        expect(CHEMPROT_LABELS).toContain(p.prediction);
        expect(p.labelLogLikelihoods).toHaveLength(13);
      }
    }
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    expect(table).toContain('| tiny-llama (accuracy) | ');
    expect(table).toContain('| tiny-llama (macro-F1) | ');
    expect(table).toContain('| column | accuracy [95% interval] | macro-F1 | minus base [95% interval] |');
    expect(table).toContain('accuracy on 3 questions (split: dev).');
  }, 600_000);
});
