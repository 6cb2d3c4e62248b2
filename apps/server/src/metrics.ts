import type { AnswerResult, Collection } from '@rg/pipeline';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { GenerationQueue } from './queue.js';

/**
 * The server's Prometheus metrics, in a registry of its own (not prom-client's global one) so that two servers in one
 * process, as in tests, count separately.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly requestSeconds: Histogram<'route' | 'method'>;
  readonly answerStageSeconds: Histogram<'stage'>;
  readonly adaptersApplied: Counter<'collection'>;
  readonly adaptersMissing: Counter<'collection'>;
  readonly tokens: Counter<'collection' | 'kind'>;
  readonly finishes: Counter<'collection' | 'reason'>;
  readonly documentsAdded: Counter<'collection'>;
  readonly documentsDeleted: Counter<'collection'>;

  constructor(queue: GenerationQueue, collections: Map<string, Collection>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'rg_server_' });
    this.requests = new Counter({
      name: 'rg_http_requests_total',
      help: 'HTTP requests answered, by route template, method and status code',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'rg_http_request_duration_seconds',
      help: 'Time from request to the end of the response (streams included), by route template and method',
      labelNames: ['route', 'method'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.answerStageSeconds = new Histogram({
      name: 'rg_answer_stage_seconds',
      help: 'Time per stage of an answer (retrieve, fetch, compose, prefill, decode)',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    new Gauge({
      name: 'rg_generation_queue_depth',
      help: 'Requests waiting for a generation slot',
      registers,
      collect() {
        this.set(queue.depth);
      },
    });
    new Gauge({
      name: 'rg_generation_in_flight',
      help: 'Generations running now',
      registers,
      collect() {
        this.set(queue.inFlight);
      },
    });
    new Gauge({
      name: 'rg_jobs',
      help: 'Document jobs recorded, by collection and state (queued, running, done, failed, cancelled)',
      labelNames: ['collection', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [name, collection] of collections) {
          for (const [state, n] of Object.entries(collection.jobCounts())) this.set({ collection: name, state }, n);
        }
      },
    });
    // The store counts its own loads; these mirror its totals at scrape time (it only counts up while open).
    const cacheHelp = { hits: 'served from the adapter store LRU', misses: 'read and verified from disk (not in the LRU)' };
    for (const kind of ['hits', 'misses'] as const) {
      new Counter({
        name: `rg_adapter_cache_${kind}_total`,
        help: `Adapter loads ${cacheHelp[kind]}, by collection`,
        labelNames: ['collection'],
        registers,
        collect() {
          this.reset();
          for (const [name, collection] of collections) this.inc({ collection: name }, collection.adapterCacheStats()[kind]);
        },
      });
    }
    new Gauge({
      name: 'rg_documents',
      help: 'Documents in each collection',
      labelNames: ['collection'],
      registers,
      collect() {
        for (const [name, collection] of collections) this.set({ collection: name }, collection.documentCount());
      },
    });
    this.adaptersApplied = new Counter({
      name: 'rg_adapters_applied_total',
      help: 'Adapters applied to answers (one per adapter per answer)',
      labelNames: ['collection'],
      registers,
    });
    this.adaptersMissing = new Counter({
      name: 'rg_adapters_missing_total',
      help: 'Adapters asked for (retrieved or explicit) that did not exist yet, e.g. still encoding',
      labelNames: ['collection'],
      registers,
    });
    this.tokens = new Counter({
      name: 'rg_tokens_total',
      help: 'Prompt and completion tokens of answers',
      labelNames: ['collection', 'kind'],
      registers,
    });
    this.finishes = new Counter({
      name: 'rg_answers_total',
      help: 'Answers by how they ended: stop, length, timeout (cut by the request timeout) or abort (client gone)',
      labelNames: ['collection', 'reason'],
      registers,
    });
    this.documentsAdded = new Counter({
      name: 'rg_documents_added_total',
      help: 'Documents submitted through POST /v1/documents',
      labelNames: ['collection'],
      registers,
    });
    this.documentsDeleted = new Counter({
      name: 'rg_documents_deleted_total',
      help: 'Documents removed through DELETE /v1/documents/:id',
      labelNames: ['collection'],
      registers,
    });
  }

  recordAnswer(collection: string, result: AnswerResult, reason: string): void {
    this.adaptersApplied.inc({ collection }, result.adapters.length);
    this.adaptersMissing.inc({ collection }, result.missingAdapters.length);
    this.tokens.inc({ collection, kind: 'prompt' }, result.promptTokens);
    this.tokens.inc({ collection, kind: 'completion' }, result.completionTokens);
    this.finishes.inc({ collection, reason });
    const t = result.timings;
    const stages: Array<[string, number]> = [
      ['retrieve', t.retrieve_ms],
      ['fetch', t.fetch_ms],
      ['compose', t.compose_ms],
      ['prefill', t.prefill_ms],
      ['decode', t.decode_ms],
    ];
    for (const [stage, ms] of stages) this.answerStageSeconds.observe({ stage }, ms / 1000);
  }
}
