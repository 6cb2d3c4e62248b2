/**
 * The layout the method was published with (PRAG's `data_aug/<dataset>/<model>/*.json`): a JSON array of items,
 * each with its test question fields, `passages` (strings) and `augment`, a list of
 * `{pid, passage, "<model>_rewrite": string, "<model>_qa": [{question, answer, full_answer}]}` where <model> is the
 * augmenting model's name. Passages whose augmentation failed are left out of both lists, as the original does.
 * We add `passage_id` to each augment entry so ids survive a round trip; the original code ignores extra keys.
 */
import type { Passage } from './generator.js';
import { AugmentDataError, type AugmentedRecord, type QaPair } from './record.js';

export type PragItem = Record<string, unknown> & { passages?: unknown; augment?: unknown };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when `value` looks like the published layout: an array of objects with `passages` or `augment`. */
export function isPragLayout(value: unknown): value is PragItem[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => isObject(v) && ('passages' in v || 'augment' in v));
}

/** The item's key in passage ids: its `qid`, else `id`, else `test_id`, else its index. */
function itemKey(item: PragItem, index: number): string {
  for (const k of ['qid', 'id', 'test_id']) {
    const v = item[k];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  return String(index);
}

/** Passage id of the pid-th passage of an item. */
export function pragPassageId(item: PragItem, index: number, pid: number): string {
  return `${itemKey(item, index)}:${pid}`;
}

/** The passages to augment: every string in every item's `passages`. */
export function passagesFromPrag(items: PragItem[], where: string): Passage[] {
  const out: Passage[] = [];
  items.forEach((item, i) => {
    if (!Array.isArray(item.passages)) throw new AugmentDataError(`${where}: item ${i}: field "passages": expected an array of strings`);
    item.passages.forEach((p, pid) => {
      if (typeof p !== 'string' || p.trim() === '') {
        throw new AugmentDataError(`${where}: item ${i}: field "passages[${pid}]": expected a non-empty string`);
      }
      out.push({ id: pragPassageId(item, i, pid), text: p });
    });
  });
  return out;
}

function suffixedKey(entry: Record<string, unknown>, suffix: 'rewrite' | 'qa'): string | undefined {
  return Object.keys(entry).find((k) => k === suffix || k.endsWith(`_${suffix}`));
}

function coerceAnswer(v: unknown): string {
  if (Array.isArray(v)) return v.map(String).join(', ');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v === 'string' ? v : '';
}

/**
 * Augmented records from existing data in the published layout. The generator is the `<model>` prefix of the
 * `_rewrite`/`_qa` keys; an entry whose QA is not a list (the original writes the raw output when it gave up) is
 * returned as failed.
 */
export function recordsFromPrag(items: PragItem[], where: string): AugmentedRecord[] {
  const out: AugmentedRecord[] = [];
  items.forEach((item, i) => {
    if (item.augment === undefined) return;
    if (!Array.isArray(item.augment)) throw new AugmentDataError(`${where}: item ${i}: field "augment": expected an array`);
    item.augment.forEach((entry, j) => {
      const at = `${where}: item ${i} augment[${j}]`;
      if (!isObject(entry)) throw new AugmentDataError(`${at}: expected an object`);
      const pid = typeof entry.pid === 'number' ? entry.pid : j;
      const passages = Array.isArray(item.passages) ? item.passages : [];
      const passage = typeof entry.passage === 'string' ? entry.passage : passages[pid];
      if (typeof passage !== 'string' || passage === '') throw new AugmentDataError(`${at}: field "passage": expected a non-empty string`);
      const rewriteKey = suffixedKey(entry, 'rewrite');
      const qaKey = suffixedKey(entry, 'qa');
      const model = (rewriteKey ?? qaKey ?? 'prag').replace(/_?(rewrite|qa)$/, '') || 'prag';
      const rewrite =
        rewriteKey && typeof entry[rewriteKey] === 'string' && entry[rewriteKey] !== '' ? (entry[rewriteKey] as string) : null;
      const rawQa = qaKey ? entry[qaKey] : undefined;
      const qa: QaPair[] = [];
      if (Array.isArray(rawQa)) {
        for (const q of rawQa) {
          if (!isObject(q) || typeof q.question !== 'string' || q.question.trim() === '') continue;
          const answer = coerceAnswer(q.answer);
          if (answer.trim() === '') continue;
          const pair: QaPair = { question: q.question, answer };
          if (typeof q.full_answer === 'string' && q.full_answer !== '') pair.fullAnswer = q.full_answer;
          qa.push(pair);
        }
      }
      const reasons: string[] = [];
      if (rewrite === null) reasons.push(`no string "${rewriteKey ?? '<model>_rewrite'}"`);
      if (qa.length === 0) reasons.push(Array.isArray(rawQa) ? 'qa list has no valid pair' : `"${qaKey ?? '<model>_qa'}" is not a list`);
      const record: AugmentedRecord = {
        passageId: typeof entry.passage_id === 'string' ? entry.passage_id : pragPassageId(item, i, pid),
        passage,
        rewrite,
        qa,
        tags: [],
        description: '',
        generator: model,
        promptVersion: 'prag',
        status: reasons.length === 0 ? 'ok' : 'failed',
      };
      if (reasons.length > 0) record.failureReason = reasons.join('; ');
      out.push(record);
    });
  });
  return out;
}

function augmentEntry(record: AugmentedRecord, pid: number, model: string): Record<string, unknown> {
  return {
    pid,
    passage_id: record.passageId,
    passage: record.passage,
    [`${model}_rewrite`]: record.rewrite,
    // The original requires full_answer; when the generator gave none, the short answer stands in for it.
    [`${model}_qa`]: record.qa.map((p) => ({ question: p.question, answer: p.answer, full_answer: p.fullAnswer ?? p.answer })),
  };
}

export interface ToPragOptions {
  /** The `<model>` prefix of the `_rewrite`/`_qa` keys (the original uses its model name, e.g. `llama3.2-1b-instruct`). */
  augmentModel: string;
  /** The input items when the passages came from the published layout: their fields are kept. */
  items?: PragItem[];
}

/**
 * Records in the published layout. With `items`, each item keeps its fields and gets the records of its passages;
 * without, each record becomes an item of its own keyed by `id`. Failed records are left out.
 */
export function toPragItems(records: AugmentedRecord[], options: ToPragOptions): PragItem[] {
  const ok = new Map(records.filter((r) => r.status === 'ok').map((r) => [r.passageId, r]));
  if (options.items === undefined) {
    return [...ok.values()].map((r) => ({ id: r.passageId, passages: [r.passage], augment: [augmentEntry(r, 0, options.augmentModel)] }));
  }
  return options.items.map((item, i) => {
    const passages = Array.isArray(item.passages) ? item.passages : [];
    const mine = passages.map((_, pid) => ok.get(pragPassageId(item, i, pid))).filter((r): r is AugmentedRecord => r !== undefined);
    return {
      ...item,
      passages: mine.map((r) => r.passage),
      augment: mine.map((r, pid) => augmentEntry(r, pid, options.augmentModel)),
    };
  });
}
