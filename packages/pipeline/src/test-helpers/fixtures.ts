import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TinyShape, writeTinyModel } from '@rg/engine/testing';
import { loadRuntime } from '../runtime.js';
import type { ModelRuntime, NewDocument, OpenCollectionOptions, RuntimeOptions } from '../types.js';

/** Three documents of invented facts, one topic each, so BM25 retrieves the right one for each question. */
export const DOCUMENTS: Array<NewDocument & { id: string }> = [
  { id: 'lighthouse', title: 'Varnholm', text: 'Varnholm Island has one lighthouse. Edda Quist has kept the lighthouse since 1998.' },
  { id: 'festival', text: 'Every October the town of Quenwick holds the Blue Turnip Festival on the Silvamoor river.' },
  { id: 'element', text: 'The element quorinium glows green. Halvard Menst first made quorinium in a furnace at Dunmere.' },
];

export const QUESTIONS: Record<string, string> = {
  lighthouse: 'Who keeps the lighthouse on Varnholm Island?',
  festival: 'When does Quenwick hold the Blue Turnip Festival?',
  element: 'What colour does quorinium glow?',
};

/** Create settings that keep the tiny model's training short: one epoch of the passage recipe. */
export const FAST: OpenCollectionOptions['create'] = { recipe: { epochs: 1 }, answer: { maxNewTokens: 6 } };

/** A scratch folder and the tiny random model loaded as a runtime (answers are noise: tests check wiring). */
export async function tinyRuntime(
  prefix: string,
  options: Partial<RuntimeOptions> = {},
  shape?: TinyShape,
): Promise<{ dir: string; runtime: ModelRuntime; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `rg-pipeline-${prefix}-`));
  const runtime = await loadRuntime({
    model: writeTinyModel(join(dir, 'tiny-llama'), shape),
    home: join(dir, 'home'),
    threads: 1,
    ...options,
  });
  return {
    dir,
    runtime,
    cleanup: async () => {
      await runtime.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` holds (e.g. a job reached a step), failing after `ms`. */
export async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
