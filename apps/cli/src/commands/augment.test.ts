import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusStore } from '@rg/corpus';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const TEXTS = [
  'The Tamar Bridge opened in 1961 between Plymouth and Saltash. It carries about 16 million vehicles a year.',
  'Charles Babbage designed the Analytical Engine in 1837. Ada Lovelace wrote the first program for it in 1843.',
  'The Rhine flows for 1,230 kilometres from the Alps to the North Sea. Rotterdam lies near its mouth.',
];

async function corpusFile(): Promise<{ dir: string; input: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rg-cli-augment-'));
  const input = join(dir, 'passages.jsonl');
  writeFileSync(input, `${TEXTS.map((text, i) => JSON.stringify({ id: `p${i}`, text })).join('\n')}\n`);
  return { dir, input };
}

function outputLines(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('rg augment', () => {
  it('augments a JSON Lines file with the template generator and resumes without redoing anything', async () => {
    const { dir, input } = await corpusFile();
    const output = join(dir, 'out.jsonl');
    const first = await runCli(['augment', '--input', input, '--output', output, '--generator', 'template', '--qa', '2', '--json']);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ generator: 'template', passages: 3, processed: 3, ok: 3, failed: 0, qaPerPassage: 2 });
    expect(outputLines(output).map((r) => r.passageId)).toEqual(['p0', 'p1', 'p2']);

    const again = await runCli(['augment', '--input', input, '--output', output, '--generator', 'template']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('resuming: 3 of 3 passages already in');
    expect(again.stdout).toContain('0 passages augmented (3 already done)');
    expect(outputLines(output)).toHaveLength(3);
  });

  it('--phrasings: the template generator writes more rewrites and asks each fact several ways', async () => {
    const { dir, input } = await corpusFile();
    const output = join(dir, 'out.jsonl');
    const r = await runCli(['augment', '--input', input, '--output', output, '--generator', 'template', '--qa', '2', '--phrasings', '3']);
    expect(r.code).toBe(0);
    for (const record of outputLines(output)) {
      expect(record.rewrites).toHaveLength(2);
      expect(record.promptVersion).toMatch(/\+phrasings3$/);
      const qa = record.qa as Array<{ answer: string }>;
      expect(qa.length).toBeGreaterThanOrEqual(3);
      expect(new Set(qa.map((p) => p.answer)).size).toBeLessThan(qa.length);
    }
    const model = await runCli([
      'augment',
      '--input',
      input,
      '--output',
      join(dir, 'o2.jsonl'),
      '--generator',
      'openai',
      '--phrasings',
      '2',
    ]);
    expect(model.code).toBe(2);
    expect(model.stderr).toContain('--phrasings is an option of --generator template');
  });

  it('reads a corpus store and writes the published layout with --prag', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rg-cli-augment-'));
    const store = CorpusStore.open(join(dir, 'store'));
    store.add(TEXTS.map((text, i) => ({ id: `doc-${i}`, text, title: `T${i}` })));
    store.close();
    const prag = join(dir, 'total.json');
    const r = await runCli([
      'augment',
      '--input',
      join(dir, 'store'),
      '--output',
      join(dir, 'out.jsonl'),
      '--generator',
      'template',
      '--sample',
      '2',
      '--prag',
      prag,
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ passages: 2, ok: 2 });
    const items = JSON.parse(readFileSync(prag, 'utf8'));
    expect(items.map((i: { id: string }) => i.id)).toEqual(['doc-0', 'doc-1']);
    expect(Object.keys(items[0].augment[0])).toEqual(['pid', 'passage_id', 'passage', 'template_rewrite', 'template_qa']);
    expect(outputLines(join(dir, 'out.jsonl'))[0]).toMatchObject({ passageId: 'doc-0', title: 'T0' });
  });

  it('takes the published layout as input, samples items like the original, and writes them back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rg-cli-augment-'));
    const input = join(dir, 'total.json');
    const items = [
      { test_id: 0, question: 'q0', answer: ['a'], passages: [TEXTS[0], TEXTS[1]] },
      { test_id: 1, question: 'q1', answer: ['b'], passages: [TEXTS[2]] },
    ];
    writeFileSync(input, JSON.stringify(items));
    const prag = join(dir, 'aug.json');
    const r = await runCli([
      'augment',
      '--input',
      input,
      '--output',
      join(dir, 'o.jsonl'),
      '--generator',
      'template',
      '--sample',
      '1',
      '--prag',
      prag,
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ passages: 2, ok: 2 });
    const written = JSON.parse(readFileSync(prag, 'utf8'));
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ test_id: 0, question: 'q0', passages: [TEXTS[0], TEXTS[1]] });
    expect(written[0].augment.map((a: { passage_id: string }) => a.passage_id)).toEqual(['0:0', '0:1']);
  });

  it('drives an OpenAI-compatible server, retries its 429, and never prints the API key', async () => {
    const key = 'sk-cli-SECRET-42';
    let calls = 0;
    const auth = new Set<string | undefined>();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        // The start-up probe (GET /v1/models): a server without that route still shows it is there.
        if (req.method === 'GET') {
          res.writeHead(404);
          res.end();
          return;
        }
        calls++;
        auth.add(req.headers.authorization);
        if (calls === 1) {
          res.writeHead(429, { 'retry-after': '0.01' });
          res.end(`rate limited for key ${req.headers.authorization}`);
          return;
        }
        const prompt: string = JSON.parse(body).messages.at(-1).content;
        const passage = TEXTS.find((t) => prompt.includes(t)) ?? '';
        const first = passage.match(/\d[\d,]*\d/)?.[0];
        const content = prompt.includes('Rewrite this passage')
          ? `Here is the rewrite: ${passage.split('. ').reverse().join('. ')}`
          : prompt.includes('questions')
            ? `\`\`\`json\n[{'question': 'Which number is mentioned first?', 'answer': '${first}'},]\n\`\`\``
            : JSON.stringify({ description: passage.split('. ')[0], tags: passage.split(' ').slice(1, 3) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { content } }] }));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const { dir, input } = await corpusFile();
    const output = join(dir, 'out.jsonl');
    const r = await runCli(
      [
        'augment',
        '--input',
        input,
        '--output',
        output,
        '--generator',
        'openai',
        '--llm-url',
        url,
        '--llm-model',
        'm',
        '--qa',
        '1',
        '--json',
      ],
      { env: { RG_LLM_API_KEY: key } },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ generator: 'openai:m', processed: 3, ok: 3, qaPerPassage: 1, groundedShare: 1 });
    expect(auth).toEqual(new Set([`Bearer ${key}`]));
    expect(calls).toBe(10); // 3 passages x 3 tasks + the 429
    expect(r.stdout + r.stderr + readFileSync(output, 'utf8')).not.toContain(key);
  });

  it('stops with a clear error on a refused key, without showing it', async () => {
    const key = 'sk-cli-REFUSED-7';
    server = createServer((req, res) => {
      res.writeHead(401);
      res.end(`Incorrect API key provided: ${req.headers.authorization}`);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const { dir, input } = await corpusFile();
    const r = await runCli(
      ['augment', '--input', input, '--output', join(dir, 'o.jsonl'), '--generator', 'openai', '--llm-url', url, '--llm-model', 'm'],
      {
        env: { RG_LLM_API_KEY: key, RG_DEBUG: '1' },
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HTTP 401');
    expect(r.stderr).toContain('check --llm-url, --llm-model and RG_LLM_API_KEY');
    expect(r.stdout + r.stderr).not.toContain(key);
  });

  it('names the file, line and field of bad input (exit 2)', async () => {
    const { dir } = await corpusFile();
    const input = join(dir, 'bad.jsonl');
    writeFileSync(input, '{"id": "a", "text": "ok"}\n{"id": "b"}\n');
    const r = await runCli(['augment', '--input', input, '--output', join(dir, 'o.jsonl'), '--generator', 'template']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${input} line 2: field "text": expected a non-empty string`);
    const missing = await runCli(['augment', '--input', join(dir, 'nope.jsonl'), '--output', join(dir, 'o.jsonl')]);
    expect(missing.code).toBe(2);
    const noModel = await runCli([
      'augment',
      '--input',
      join(dir, 'passages.jsonl'),
      '--output',
      join(dir, 'o.jsonl'),
      '--model',
      join(dir, 'none.gguf'),
    ]);
    expect(noModel.code).toBe(1);
    expect(noModel.stderr).toContain(`${join(dir, 'none.gguf')}: no such file or folder`);
    const noUrl = await runCli([
      'augment',
      '--input',
      join(dir, 'passages.jsonl'),
      '--output',
      join(dir, 'o.jsonl'),
      '--generator',
      'openai',
    ]);
    expect(noUrl.stderr).toContain('--generator openai needs --llm-url and --llm-model');
  });
});
