#!/usr/bin/env node
// kill -9 during document adds: rg-server as a child process takes 20 documents; it is SIGKILLed twice while a
// document's adapter is being trained, restarted each time, and left to finish its jobs. Meanwhile a prober keeps
// asking for answers with the adapter of every document the server says is encoded. At the end every document must
// be indexed (retrievable) with exactly one adapter that the store verifies, and no answer may have failed or have
// missed an adapter the server had reported as present.
//
// Needs dist (build engine, adapter-store, inference, pipeline, server first). Prints one JSON line; exit 1 on a
// violated check.
//
//   node tools/server-kill9.mjs [--model smollm2-135m-instruct] [--home ~/.cache/rg] [--threads 2] [--docs 20]
//                               [--epochs 1] [--data-dir ../shared/data] [--keep]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { values: flags } = parseArgs({
  options: {
    model: { type: 'string', default: 'smollm2-135m-instruct' },
    home: { type: 'string', default: process.env.RG_HOME || join(homedir(), '.cache', 'rg') },
    threads: { type: 'string', default: '2' },
    docs: { type: 'string', default: '20' },
    epochs: { type: 'string', default: '1' },
    'data-dir': { type: 'string', default: '../shared/data' },
    keep: { type: 'boolean', default: false },
  },
});
const { loadRuntime, openCollection } = await import(join(root, 'packages/pipeline/dist/index.js'));
const { AdapterStore } = await import(join(root, 'packages/adapter-store/dist/index.js'));

const started = new Date().toISOString();
const loadStart = loadavg().map((x) => Math.round(x * 100) / 100);
const count = Number(flags.docs);
const work = mkdtempSync(join(tmpdir(), 'rg-kill9-'));
const dir = join(work, 'kb');
const log = (line) => process.stderr.write(`kill9: ${line}\n`);

// Short real paragraphs (PopQA's Wikipedia ones), distinct, so training takes seconds per document.
const rows = JSON.parse(readFileSync(resolve(flags['data-dir'], 'popqa', 'popqa.json'), 'utf8'));
const seen = new Set();
const docs = [];
for (const row of rows) {
  for (const p of row.paragraphs) {
    const words = p.text.split(/\s+/).length;
    if (words < 40 || words > 90 || seen.has(p.title)) continue;
    seen.add(p.title);
    docs.push({ id: `doc-${docs.length}`, title: p.title, text: p.text });
  }
  if (docs.length >= count) break;
}

// The collection made beforehand with a short recipe (the server opens it as it is).
{
  const runtime = await loadRuntime({ model: flags.model, home: flags.home, threads: Number(flags.threads) });
  await (await openCollection(dir, runtime, { create: { recipe: { epochs: Number(flags.epochs) }, answer: { maxNewTokens: 2 } } })).close();
  await runtime.dispose();
}

let server; // { child, url, exited }
function startServer() {
  const child = spawn(
    process.execPath,
    [
      join(root, 'apps/server/bin/rg-server.js'),
      '--collection',
      dir,
      '--port',
      '0',
      '--model',
      flags.model,
      '--home',
      flags.home,
      '--threads',
      flags.threads,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise((done) => child.on('exit', (code, signal) => done({ code, signal })));
  return new Promise((ready, fail) => {
    let err = '';
    child.stderr.on('data', (chunk) => {
      err += chunk;
      const m = /listening on (http:\/\/[^\s:]+:\d+)/.exec(err);
      if (m && !server?.url) {
        server = { child, url: m[1], exited };
        ready();
      }
    });
    exited.then(({ code, signal }) => {
      if (!server || server.child !== child) fail(new Error(`rg-server exited (${code ?? signal}) before listening: ${err.slice(-2000)}`));
    });
  });
}

async function api(path, init = {}) {
  const res = await fetch(`${server.url}${path}`, { ...init, headers: init.body ? { 'content-type': 'application/json' } : {} });
  return { status: res.status, body: await res.json() };
}

const jobs = new Map(); // document id -> job id
async function post(doc) {
  const { status, body } = await api('/v1/documents', { method: 'POST', body: JSON.stringify(doc) });
  if (status !== 202) throw new Error(`POST ${doc.id}: HTTP ${status} ${JSON.stringify(body)}`);
  jobs.set(doc.id, body.job_id);
}

async function jobStates() {
  const states = [];
  for (const [, jobId] of jobs) states.push((await api(`/v1/jobs/${jobId}`)).body);
  return states;
}

/** Waits until at least `done` jobs are done and one is training (step encode, running) for `intoMs`, then SIGKILLs. */
async function killMidEncode(done, intoMs) {
  let said = -Infinity;
  for (;;) {
    const states = await jobStates();
    if (performance.now() - said > 10_000) {
      said = performance.now();
      const by = {};
      for (const j of states) by[`${j.state}/${j.step}`] = (by[`${j.state}/${j.step}`] ?? 0) + 1;
      log(`waiting for ${done} done and one training: ${JSON.stringify(by)}`);
    }
    if (states.every((j) => j.state === 'done')) throw new Error(`every job was done before the kill (training is too fast to hit)`);
    const running = states.find((j) => j.state === 'running' && j.step === 'encode');
    if (states.filter((j) => j.state === 'done').length >= done && running) {
      await new Promise((r) => setTimeout(r, intoMs));
      const victim = server;
      server = undefined;
      victim.child.kill('SIGKILL');
      const { signal } = await victim.exited;
      log(`SIGKILL (${signal}) with ${states.filter((j) => j.state === 'done').length} jobs done, ${running.document_id} training`);
      return { doneBefore: states.filter((j) => j.state === 'done').length, training: running.document_id };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The prober: answers with the adapter of every document the server reported as encoded. A kill makes requests fail
// to connect (not counted); an answer with an HTTP error, or without the adapter it asked for, is a violation.
const probe = { answers: 0, connectionErrors: 0, violations: [] };
let probing = true;
async function prober() {
  const encoded = new Set();
  while (probing) {
    await new Promise((r) => setTimeout(r, 50));
    if (!server) continue;
    try {
      for (const doc of docs) {
        if (encoded.has(doc.id) || !jobs.has(doc.id)) continue;
        const { status, body } = await api(`/v1/documents/${doc.id}`);
        if (status === 200 && body.has_adapter) encoded.add(doc.id);
      }
      for (const id of encoded) {
        const { status, body } = await api('/v1/chat/completions', {
          method: 'POST',
          body: JSON.stringify({
            messages: [{ role: 'user', content: 'Say one word.' }],
            max_tokens: 1,
            rg: { method: 'cat_all_one', adapters: [{ id }] },
          }),
        });
        probe.answers++;
        if (status !== 200) probe.violations.push(`${id}: HTTP ${status} ${JSON.stringify(body.error)}`);
        else if (!body.rg.adapters.some((a) => a.id === id) || body.rg.missing_adapters.includes(id))
          probe.violations.push(`${id}: reported encoded, answered without its adapter`);
      }
    } catch {
      probe.connectionErrors++;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const kills = [];
const t0 = performance.now();
let failure;
try {
  await startServer();
  log(`rg-server at ${server.url}; ${docs.length} documents`);
  const probing$ = prober();
  const half = Math.ceil(docs.length / 2);
  for (const doc of docs.slice(0, half)) await post(doc);
  kills.push(await killMidEncode(Math.floor(half / 3), 1500));
  await startServer();
  for (const doc of docs.slice(half)) await post(doc);
  kills.push(await killMidEncode(Math.ceil((2 * docs.length) / 3), 3000));
  await startServer();
  for (;;) {
    const states = await jobStates();
    const open = states.filter((j) => j.state !== 'done');
    if (open.some((j) => j.state === 'failed' || j.state === 'cancelled')) throw new Error(`jobs ended badly: ${JSON.stringify(open)}`);
    if (open.length === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const jobsDoneSeconds = (performance.now() - t0) / 1000;
  probing = false;
  await probing$;

  // Every document: indexed (retrieved by its own title), reported with an adapter.
  const documents = [];
  for (const doc of docs) {
    const { status, body } = await api(`/v1/documents/${doc.id}`);
    const answer = await api('/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: doc.title }], max_tokens: 1, rg: { method: 'cat_all_one', k: 16 } }),
    });
    documents.push({
      id: doc.id,
      status,
      hasAdapter: body.has_adapter === true,
      retrieved: answer.body.rg?.documents.some((d) => d.id === doc.id) ?? false,
    });
  }
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  server = undefined;

  // The store itself: exactly one adapter per document, each re-read and verified.
  const settings = JSON.parse(readFileSync(join(dir, 'collection.json'), 'utf8'));
  const store = AdapterStore.open(join(dir, settings.adapterDir));
  const entries = store.list({ dataset: settings.adapterDataset });
  const perDocument = new Map(docs.map((d) => [d.id, 0]));
  const verified = entries.map((e) => ({ id: e.key.id, ...store.verify(e.key) }));
  for (const e of entries) if (perDocument.has(e.key.id)) perDocument.set(e.key.id, perDocument.get(e.key.id) + 1);
  store.close?.();
  const checks = {
    everyDocumentFound: documents.every((d) => d.status === 200),
    everyDocumentHasAdapter: documents.every((d) => d.hasAdapter),
    everyDocumentRetrieved: documents.every((d) => d.retrieved),
    exactlyOneAdapterEach: [...perDocument.values()].every((n) => n === 1),
    noOtherAdapters: entries.every((e) => perDocument.has(e.key.id)),
    everyAdapterVerifies: verified.every((v) => v.ok),
    noAnswerFailedOrMissedAnAdapter: probe.violations.length === 0,
    cleanShutdown: exit.code === 0,
  };
  const ok = Object.values(checks).every(Boolean);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'server-kill9',
      started,
      model: flags.model,
      documents: docs.length,
      epochs: Number(flags.epochs),
      kills,
      jobsDoneSeconds: Math.round(jobsDoneSeconds),
      adapters: entries.length,
      probe: { answers: probe.answers, connectionErrors: probe.connectionErrors, violations: probe.violations.slice(0, 10) },
      failedChecks: Object.entries(checks)
        .filter(([, v]) => !v)
        .map(([k]) => k),
      problems: [
        ...documents.filter((d) => !d.hasAdapter || !d.retrieved).map((d) => JSON.stringify(d)),
        ...[...perDocument].filter(([, n]) => n !== 1).map(([id, n]) => `${id}: ${n} adapters`),
        ...verified.filter((v) => !v.ok).map((v) => `${v.id}: ${v.message}`),
      ],
      checks,
      ok,
      load: { start: loadStart, end: loadavg().map((x) => Math.round(x * 100) / 100) },
    })}\n`,
  );
  process.exitCode = ok ? 0 : 1;
} catch (e) {
  failure = e;
} finally {
  probing = false;
  server?.child.kill('SIGKILL');
  if (!flags.keep) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}
if (failure) {
  log(`error: ${failure.stack ?? failure}`);
  process.exitCode = 1;
}
