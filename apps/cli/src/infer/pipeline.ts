import type { MethodOutcome } from '@rg/inference';
import { clustersPath, type InferenceHooks, type InferSettings as LibrarySettings, runInference as run } from '@rg/pipeline';
import { defaultAdapterStore } from '../train/common.js';

/** @rg/pipeline's settings of runInference, the adapter store defaulted as rg encode's and the clusters rg cluster's. */
export type InferSettings = Omit<LibrarySettings, 'clusters'>;

/** The CLI's layout: adapters in RG_HOME/adapters unless given, the clusters file of rg cluster in the corpus store. */
export function cliInferSettings(s: InferSettings): LibrarySettings {
  return { ...s, adapters: s.adapters ?? defaultAdapterStore(s.home), clusters: s.store && clustersPath(s.store) };
}

/** @rg/pipeline runInference on the CLI's layout (cliInferSettings). */
export function runInference(s: InferSettings, hooks: InferenceHooks = {}): Promise<MethodOutcome[]> {
  return run(cliInferSettings(s), hooks);
}
