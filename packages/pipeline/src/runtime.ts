import { loadModel, modelFingerprint, modelKeyName, OrtCausalLM, quantCacheFor, TrainingSession } from '@rg/engine';
import { engineAnswerModel } from '@rg/inference';
import { RequestGate } from './request-gate.js';
import type { ModelRuntime, RuntimeOptions } from './types.js';

/**
 * Loads the model once for a process: weights, tokenizer, the inference session, and the model's identity in adapter
 * stores. A known model name is pulled into `home` on first use (unless `pull: false`). The training session is made
 * only when a collection first encodes a document: a process that only answers never pays for it.
 */
export async function loadRuntime(options: RuntimeOptions): Promise<ModelRuntime> {
  const loaded = await loadModel(options.model, { home: options.home, pull: options.pull ?? true });
  const weightFormat = options.weightFormat ?? 'f32';
  const lm = await OrtCausalLM.load(loaded.config, loaded.weights, {
    threads: options.threads,
    worker: options.worker,
    weightFormat,
    quantCache: quantCacheFor(loaded.source, options.home),
  });
  if (options.batched) {
    try {
      await lm.prepareBatched();
    } catch (e) {
      await lm.dispose();
      throw e;
    }
  }
  // One session per set of target modules (a collection adopted from another store may target others).
  const sessions = new Map<string, Promise<TrainingSession>>();
  let disposed = false;
  const replacement = options.generate;
  return {
    model: options.model,
    modelName: modelKeyName(loaded.source),
    fingerprint: modelFingerprint(loaded.config, loaded.source),
    config: loaded.config,
    tokenizer: loaded.tokenizer,
    threads: options.threads,
    home: options.home,
    worker: options.worker ?? false,
    weightFormat,
    // A replacement is handed the model itself, not the per-request view engineAnswerModel passes (which tracks the
    // caches a generation cut short leaves): a batcher needs the model's batched forward and releases its own caches.
    answerModel: engineAnswerModel(lm, loaded.tokenizer, {
      generate: replacement && ((_view, promptIds, generateOptions) => replacement(lm, promptIds, generateOptions)),
    }),
    requests: new RequestGate(options.trainingMaxPauseMs),
    trainingSession(targets) {
      if (disposed) return Promise.reject(new Error('trainingSession: the runtime was disposed'));
      const key = [...targets].sort().join(',');
      let session = sessions.get(key);
      if (!session) {
        session = TrainingSession.create(loaded.config, loaded.weights, { targets, threads: options.threads });
        // A failed creation is not cached: the next document tries again.
        session.catch(() => sessions.delete(key));
        sessions.set(key, session);
      }
      return session;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      const made = await Promise.allSettled(sessions.values());
      for (const s of made) if (s.status === 'fulfilled') await s.value.release();
      await lm.dispose();
    },
  };
}
