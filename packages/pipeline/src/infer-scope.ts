import { type AdapterStore, isDocKey } from '@rg/adapter-store';
import { WARMUP_ADAPTER_ID } from '@rg/lora-trainer';
import { InferenceInputError } from './infer-errors.js';

/** Where a run's adapters sit in the store: the model, the adapter shape and the training run's lr and epochs. */
export type AdapterScope = { model: string; rank: number; alpha: number; dataset: string; lr: number; epochs: number };

/** The shape flags, each left out to take it from what the adapter store holds. */
export type ScopeShape = Partial<Pick<AdapterScope, 'rank' | 'alpha' | 'lr' | 'epochs'>>;

/** The shape of a run that reads no adapters (it still names its output folder): rg encode's defaults. */
export const DEFAULT_SHAPE: Required<ScopeShape> = { rank: 2, alpha: 32, lr: 3e-4, epochs: 1 };

const FIELDS = ['rank', 'alpha', 'lr', 'epochs'] as const;

/** The shape given, rg encode's default for each flag left out. */
export function shapeOrDefaults(shape: ScopeShape): Required<ScopeShape> {
  return {
    rank: shape.rank ?? DEFAULT_SHAPE.rank,
    alpha: shape.alpha ?? DEFAULT_SHAPE.alpha,
    lr: shape.lr ?? DEFAULT_SHAPE.lr,
    epochs: shape.epochs ?? DEFAULT_SHAPE.epochs,
  };
}

const shapeText = (s: ScopeShape) =>
  FIELDS.filter((f) => s[f] !== undefined)
    .map((f) => `${f} ${s[f]}`)
    .join(', ');

/**
 * The scope whose adapters the methods apply. The store key still carries lr and epochs, but a user should not have
 * to repeat rg encode's flags to read what it wrote: every shape flag left out is taken from the store when the
 * adapters of this model (and dataset) there have one value for it. Answering with no adapter at all is the base
 * model under another name, so an empty or ambiguous scope is an error that says what the store does hold.
 * `rg encode` names the dataset after its input file and `rg infer` after the questions, so when the dataset was not
 * given and the store holds fitting adapters under exactly one dataset, that one is used (and said).
 */
export function adapterScopeInStore(
  store: AdapterStore,
  root: string,
  want: { model: string; dataset: string; datasetGiven: boolean; shape: ScopeShape },
  note: (text: string) => void = () => {},
): AdapterScope {
  const seen = new Map<string, AdapterScope>();
  for (const e of store.list({ model: want.model })) {
    // The warm-up adapter is trained with its own lr and epochs and found by itself (--warmup): not a setup.
    if (!isDocKey(e.key) || e.key.id === WARMUP_ADAPTER_ID) continue;
    const { model, rank, alpha, dataset, lr, epochs } = e.key;
    const scope = { model, rank, alpha, dataset, lr, epochs };
    seen.set(JSON.stringify(scope), scope);
  }
  const stored = [...seen.values()];
  const fits = stored.filter((s) => FIELDS.every((f) => want.shape[f] === undefined || want.shape[f] === s[f]));
  const inDataset = fits.filter((s) => s.dataset === want.dataset);
  const datasets = [...new Set(fits.map((s) => s.dataset))];
  const given = shapeText(want.shape);
  const asked = `model ${want.model}${given ? `, ${given}` : ''}`;
  const listed = (scopes: AdapterScope[]) =>
    scopes
      .slice(0, 6)
      .map((s) => `dataset "${s.dataset}" with ${shapeText(s)}`)
      .join('; ') + (scopes.length > 6 ? `; and ${scopes.length - 6} more` : '');

  let candidates = inDataset;
  if (candidates.length === 0 && !want.datasetGiven && datasets.length === 1) {
    candidates = fits;
    note(
      `no adapters under dataset "${want.dataset}" in ${root}; using the store's only dataset with ${asked}: "${datasets[0]}" (--adapter-dataset to choose)`,
    );
  }
  if (candidates.length === 1) {
    const [scope] = candidates;
    const taken = FIELDS.filter((f) => want.shape[f] === undefined);
    if (taken.length > 0) note(`adapters in ${root}: ${shapeText(scope)} (${taken.map((f) => `--${f}`).join(', ')} taken from the store)`);
    return scope;
  }
  if (candidates.length > 1) {
    throw new InferenceInputError(
      `the adapter store ${root} holds adapters of ${asked} under dataset "${candidates[0].dataset}" from ${candidates.length} training setups (${listed(candidates)}): pass --rank, --alpha, --lr or --epochs to choose`,
    );
  }
  const have =
    datasets.length > 0
      ? `it holds adapters of this shape under dataset(s) ${datasets.map((d) => `"${d}"`).join(', ')}: pass --adapter-dataset NAME`
      : stored.length > 0
        ? `it holds ${listed(stored)} (rg adapter list --store ${root} shows them all)`
        : `it holds none of model ${want.model}: run rg encode first (rg adapter list --store ${root} shows what it holds)`;
  throw new InferenceInputError(`no adapters in ${root} under dataset "${want.dataset}" with ${asked}; ${have}`);
}
