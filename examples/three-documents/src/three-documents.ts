import { join } from 'node:path';
import { AdapterStore, type BaseWeightKey, type DocAdapterKey } from '@rg/adapter-store';
import { type LoadedModel, OrtCausalLM } from '@rg/engine';
import { type Answerer, type AnswerOptions, createAnswerer, engineAnswerModel, storeAdapterSource } from '@rg/inference';
import { type CompositionEntry, composeCat } from '@rg/lora';
import { DEFAULT_TARGETS, encodeDocuments, type GroupOutcome, openTrainingRun, type RecipeRecord } from '@rg/lora-trainer';
import { SqliteBm25Retriever } from '@rg/retriever';

/** Three documents of invented facts, as `rg augment` would leave them: passage, rewrite, question/answer pairs. */
export const DOCUMENTS: RecipeRecord[] = [
  {
    passageId: 'lighthouse',
    passage: 'Varnholm Island has one lighthouse. Edda Quist has kept it since 1998.',
    rewrite: 'Since 1998 the only lighthouse on Varnholm Island has been kept by Edda Quist.',
    qa: [
      { question: 'Who keeps the lighthouse on Varnholm Island?', answer: 'Edda Quist' },
      { question: 'Since when has Edda Quist kept the Varnholm lighthouse?', answer: 'Since 1998' },
    ],
  },
  {
    passageId: 'festival',
    passage: 'Every October the town of Quenwick holds the Blue Turnip Festival on the Silvamoor river.',
    rewrite: 'Quenwick, on the Silvamoor river, celebrates the Blue Turnip Festival each October.',
    qa: [
      { question: 'Which festival does Quenwick hold?', answer: 'The Blue Turnip Festival' },
      { question: 'When is the Blue Turnip Festival?', answer: 'Every October' },
    ],
  },
  {
    passageId: 'element',
    passage: 'The element quorinium glows green. Halvard Menst first made it in a furnace at Dunmere.',
    rewrite: 'Quorinium, first made by Halvard Menst in a Dunmere furnace, glows green.',
    qa: [
      { question: 'What colour does quorinium glow?', answer: 'Green' },
      { question: 'Who first made quorinium?', answer: 'Halvard Menst' },
    ],
  },
];

/** The documents as the retriever indexes them and icl/combine put them in the prompt. */
const PASSAGES = DOCUMENTS.map((d) => ({ id: d.passageId, text: d.passage }));

/** The training settings of this example: rank 2 as the method, more steps than its defaults so a tiny model moves. */
const TRAINING = { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 0, dataset: 'three-documents', lr: 1e-3, epochs: 2 };

/** What offline encoding leaves behind: the adapters in a store, the documents in a BM25 index. */
export interface Knowledge {
  store: AdapterStore;
  retriever: SqliteBm25Retriever;
  /** The adapters' store key without the document id. */
  scope: Omit<DocAdapterKey, 'id'>;
  outcomes: GroupOutcome[];
  close(): Promise<void>;
}

/**
 * Offline: one LoRA adapter per document (trained on its passage, rewrite and QA pairs) into an adapter store under
 * `dir`, and the passages into a BM25 index there. `onInitBaseWeight`: the shared initial adapter was created.
 */
export async function encodeAndIndex(model: LoadedModel, dir: string, onInitBaseWeight?: (key: BaseWeightKey) => void): Promise<Knowledge> {
  const store = AdapterStore.open(join(dir, 'adapters'));
  const retriever = new SqliteBm25Retriever(join(dir, 'bm25.sqlite'));
  const close = async () => {
    await retriever.close();
    store.close();
  };
  try {
    const run = await openTrainingRun(model, store, { ...TRAINING, threads: 1, onInitBaseWeight });
    let outcomes: GroupOutcome[];
    try {
      outcomes = await encodeDocuments(DOCUMENTS, run.context, { mode: 'lora', lr: TRAINING.lr, epochs: TRAINING.epochs, batchSize: 1 });
    } finally {
      await run.close();
    }
    await retriever.add(PASSAGES);
    return { store, retriever, scope: run.context.scope, outcomes, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * At question time: the base model on onnxruntime, and an answerer that retrieves the top documents, applies their
 * adapters together for the one request (concatenated along the rank: the method's cat_all_one) and answers.
 * Other methods of AnswerOptions work the same way (wo_param: the base model alone).
 */
export async function openAnswerer(
  model: LoadedModel,
  knowledge: Knowledge,
  options: Pick<AnswerOptions, 'method' | 'topk'>,
): Promise<{ answerer: Answerer; close: () => Promise<void> }> {
  const lm = await OrtCausalLM.load(model.config, model.weights, { threads: 1, loraTargets: DEFAULT_TARGETS });
  const answerer = createAnswerer<CompositionEntry>(
    {
      model: engineAnswerModel(lm, model.tokenizer),
      retriever: knowledge.retriever,
      documents: { get: (id) => PASSAGES.find((d) => d.id === id) },
      adapters: storeAdapterSource(knowledge.store, knowledge.scope),
      compose: composeCat,
    },
    { ...options, maxNewTokens: 16 },
  );
  return { answerer, close: () => lm.dispose() };
}
