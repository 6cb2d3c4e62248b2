/// <reference lib="dom" />
// The callbacks given to page.evaluate and waitForFunction run in the browser, on its DOM.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyModel } from '@rg/engine/testing';
import { loadRuntime, openCollection } from '@rg/pipeline';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_OPTIONS } from '../deps.js';
import { type RunningServer, startServer } from '../start.js';

/**
 * The playground in a real headless browser (Debian's chromium, driven by playwright-core, which never downloads a
 * browser of its own) against the server on a real collection and the tiny random model: answers are noise, but
 * retrieval, adapters, jobs and deletion are the real ones.
 */
const CHROMIUM = process.env.RG_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../.vitest/playground.png');
const KEY = 'sk-playground-3f9a';
const METHODS = ['wo_param', 'icl', 'cat_all_one', 'combine'];
const QUESTION = 'When does the Merrow tide pool glow green?';
const NEW_DOC = { id: 'tidepool', text: 'The Merrow tide pool glows green every night in August, lit by plankton.' };
// Markup in a title must show as text, not run.
const HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">Merrow';

const found = existsSync(CHROMIUM);
if (!found) console.log(`playground browser test skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set RG_CHROMIUM)`);

let dir: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

/** Waits until every panel has finished answering round `round` of questions; returns their states. */
async function roundDone(round: number): Promise<string[]> {
  await page.waitForFunction(
    ({ methods, round }) =>
      methods.every((m) => {
        const panel = document.querySelector(`.panel[data-method="${m}"]`) as HTMLElement | null;
        return panel?.dataset.round === String(round) && (panel.dataset.state === 'done' || panel.dataset.state === 'error');
      }),
    { methods: METHODS, round },
    { timeout: 120_000 },
  );
  return page.$$eval('.panel', (panels) => panels.map((p) => (p as HTMLElement).dataset.state ?? ''));
}

const round = async () => Number(await page.$eval('#panels', (p) => (p as HTMLElement).dataset.round ?? 0));
const listed = (method: string, list: 'documents' | 'adapters') =>
  page.$$eval(`.panel[data-method="${method}"] ul.${list} li code`, (codes) => codes.map((c) => c.textContent));
const retrievedBy = (method: string) => listed(method, 'documents');

describe.skipIf(!found)('the playground in headless chromium', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rg-playground-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const home = join(dir, 'home');
    const kb = join(dir, 'kb');
    // A one-epoch recipe so the tiny model's jobs take seconds.
    const runtime = await loadRuntime({ model, home, threads: 1 });
    const collection = await openCollection(kb, runtime, { create: { recipe: { epochs: 1 }, answer: { maxNewTokens: 6 } } });
    collection.addDocument({ id: 'lighthouse', text: 'Varnholm Island has one lighthouse. Edda Quist has kept it since 1998.' });
    collection.addDocument({ id: 'festival', text: 'Every October Quenwick holds the Blue Turnip Festival on the Silvamoor river.' });
    await collection.whenIdle();
    await collection.close();
    await runtime.dispose();
    server = await startServer({
      ...DEFAULT_SERVER_OPTIONS,
      collections: [kb],
      host: '127.0.0.1',
      port: 0,
      model,
      home,
      threads: 1,
      logLevel: 'silent',
      apiKey: KEY,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Chromium refuses to start its sandbox as root (CI containers run as root).
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('asks for the key, answers four ways with what each used, adds and deletes a document, and the answers follow', async () => {
    await page.goto(server.url);
    // The server has a key: the page asks for it before anything else.
    await page.locator('#key-section').waitFor({ state: 'visible' });
    await page.fill('#api-key', KEY);
    await page.click('#key-form button[type="submit"]');
    await page.locator('#main').waitFor({ state: 'visible' });
    expect(await page.evaluate(() => sessionStorage.getItem('rg.playground.apiKey'))).toBe(KEY);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await page.textContent('#collection')).toContain('kb (2 documents)');

    await page.fill('#question', 'Who keeps the lighthouse on Varnholm Island?');
    await page.click('#ask');
    expect(await roundDone(1)).toEqual(['done', 'done', 'done', 'done']);
    for (const method of METHODS) {
      const answer = await page.textContent(`.panel[data-method="${method}"] .answer`);
      expect(answer?.length, method).toBeGreaterThan(0);
    }
    expect(await retrievedBy('wo_param')).toEqual([]);
    expect(await retrievedBy('icl')).toContain('lighthouse');
    // RG applies the retrieved documents' adapters.
    expect(await listed('cat_all_one', 'adapters')).toContain('lighthouse');
    expect(await listed('icl', 'adapters')).toEqual([]);
    // Documents an answer retrieved are listed with a delete button.
    await page.locator('#documents li[data-id="lighthouse"] button.delete').waitFor();

    await page.fill('#question', QUESTION);
    await page.click('#ask');
    await roundDone(2);
    expect(await retrievedBy('icl')).not.toContain(NEW_DOC.id);

    // Add the document through the form; the page follows its job, then asks the question again by itself.
    await page.fill('#doc-id', NEW_DOC.id);
    await page.fill('#doc-title', HOSTILE_TITLE);
    await page.fill('#doc-text', NEW_DOC.text);
    await page.click('#add');
    const steps = new Set<string>();
    for (const end = Date.now() + 120_000; Date.now() < end; ) {
      const status = (await page.textContent('#job-status')) ?? '';
      steps.add(status);
      if (/done|failed/.test(status)) break;
      await page.waitForTimeout(100);
    }
    expect(await page.getAttribute('#job-status', 'data-state')).toBe('done');
    expect(
      [...steps].some((s) => /\((ingest|index|augment|encode)\)/.test(s)),
      [...steps].join(' | '),
    ).toBe(true);
    await page.waitForFunction(
      (id) => /adapter ready/.test(document.querySelector(`#documents li[data-id="${id}"]`)?.textContent ?? ''),
      NEW_DOC.id,
    );
    expect(await roundDone(3)).toEqual(['done', 'done', 'done', 'done']);
    expect(await retrievedBy('icl')).toContain(NEW_DOC.id);
    expect(await retrievedBy('combine')).toContain(NEW_DOC.id);
    await page.waitForFunction(() => document.querySelector('#collection')?.textContent?.includes('kb (3 documents)'));

    // The hostile title is shown as text; no element was made from it and nothing ran.
    expect(await page.textContent(`#documents li[data-id="${NEW_DOC.id}"]`)).toContain(HOSTILE_TITLE);
    expect(await page.$$eval('#documents img', (imgs) => imgs.length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`playground screenshot: ${SCREENSHOT}`);

    // Delete it: gone from the list, and from the answers of the next round.
    const before = await round();
    await page.click(`#documents li[data-id="${NEW_DOC.id}"] button.delete`);
    await page.locator(`#documents li[data-id="${NEW_DOC.id}"]`).waitFor({ state: 'detached' });
    expect(await page.textContent('#job-status')).toContain(`Deleted ${NEW_DOC.id}`);
    expect(await roundDone(before + 1)).toEqual(['done', 'done', 'done', 'done']);
    expect(await retrievedBy('icl')).not.toContain(NEW_DOC.id);
    expect(await retrievedBy('combine')).not.toContain(NEW_DOC.id);
    expect(server.collections.get('kb')?.document(NEW_DOC.id)).toBeUndefined();

    expect(pageErrors).toEqual([]);
  }, 300_000);
});
