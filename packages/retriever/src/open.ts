import { createHash } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { SentenceEncoder } from '@rg/engine';
import { SqliteVecRetriever } from './dense/sqlite-vec.js';
import { ElasticsearchRetriever } from './elasticsearch/elasticsearch.js';
import type { FieldWeights } from './fields.js';
import { type HnswParams, HnswRetriever } from './hnsw/hnsw.js';
import { HybridRetriever } from './hybrid/rrf.js';
import { QdrantRetriever } from './qdrant/qdrant.js';
import { type BackendPlugin, backendPlugin, pluginBackends, registerBackend } from './registry.js';
import { probeServer, type RemoteOptions, remoteOptionsFromEnv, resolveRemote } from './remote.js';
import { SqliteBm25Retriever } from './sqlite/bm25.js';
import type { Embedder, Retriever } from './types.js';

export const BACKENDS = ['sqlite', 'dense', 'hnsw', 'hybrid', 'elasticsearch', 'qdrant'] as const;
/** Backends that run inside the process, with their index in the store folder. */
export const EMBEDDED_BACKENDS = ['sqlite', 'dense', 'hnsw', 'hybrid'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface OpenOptions {
  /** The store folder; embedded indexes live in its `index/` subfolder. */
  storeDir: string;
  /**
   * Write a new embedded index beside the current one (see commitBuild), so searches never see a
   * half-built index and an interrupted build leaves the old one intact.
   */
  build?: boolean;
  /** RG_HOME: where the dense encoder's weights are fetched to. */
  home?: string;
  /**
   * The embedder of the vector backends (dense, hnsw, hybrid, qdrant), made when one is needed; the retriever owns it
   * (closes it). Default: all-MiniLM-L6-v2 on @rg/engine, fetched to `home`.
   */
  embedder?: () => Promise<Embedder>;
  /** onnxruntime intra-op threads for the dense encoder. */
  threads?: number;
  /** Server backends read RG_ES_URL / RG_ES_API_KEY and RG_QDRANT_URL / RG_QDRANT_API_KEY from here. */
  env?: NodeJS.ProcessEnv;
  /** HNSW parameters (`hnsw` backend): M and efConstruction apply when the graph is built, efSearch to every open. */
  hnsw?: Partial<HnswParams>;
  /** Server backends: timeouts and retries (default: REMOTE_DEFAULTS, overridden by RG_REMOTE_* in `env`). */
  remote?: RemoteOptions;
  /**
   * Weights of the lexical fields (text, title, tags, description) for the backends that index them: `sqlite`,
   * `hybrid` (its BM25 part) and `elasticsearch`; stored in an index a build creates. Other backends refuse them.
   */
  fieldWeights?: Partial<FieldWeights>;
}

/** Backends that index tags and descriptions as weighted fields (the others embed title and text only). */
export const FIELD_BACKENDS = ['sqlite', 'hybrid', 'elasticsearch'] as const;

const BUILDING = '.building';

/** Files an embedded backend keeps under `<store>/index/`. */
export function indexFiles(storeDir: string, backend: BackendName): string[] {
  const dir = join(storeDir, 'index');
  switch (backend) {
    case 'sqlite':
      return [join(dir, 'bm25.sqlite')];
    case 'dense':
      return [join(dir, 'dense.sqlite')];
    case 'hnsw':
      // The graph over the dense backend's vectors: building either keeps one set of embeddings.
      return [...indexFiles(storeDir, 'dense'), join(dir, 'dense.hnsw')];
    case 'hybrid':
      return [...indexFiles(storeDir, 'sqlite'), ...indexFiles(storeDir, 'dense')];
    case 'elasticsearch':
    case 'qdrant':
      return [];
  }
}

/**
 * The Elasticsearch index / Qdrant collection of a store: "rg-" + the folder name (lowercased,
 * other characters replaced) + a hash of its absolute path, so two stores never share one.
 */
export function serverIndexName(storeDir: string): string {
  const abs = resolve(storeDir);
  const base = basename(abs)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .slice(0, 64);
  return `rg-${base}-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`;
}

function serverUrl(env: NodeJS.ProcessEnv | undefined, name: string, backend: string): string {
  const url = env?.[name];
  if (!url)
    throw new IndexMissingError(
      `the ${backend} backend needs a server: set ${name} (e.g. http://localhost:${backend === 'qdrant' ? 6333 : 9200})`,
    );
  return url;
}

export class IndexMissingError extends Error {
  override name = 'IndexMissingError';
}

/**
 * Makes an outside backend openable by name (`openRetriever(plugin.name, ...)`). Built-in names cannot be taken.
 */
export function registerRetrieverBackend(plugin: BackendPlugin): void {
  registerBackend(plugin, BACKENDS);
}

/** Every name `openRetriever` opens: the built-in backends, then the registered plug-ins. */
export function knownBackends(): string[] {
  return [...BACKENDS, ...pluginBackends()];
}

/**
 * Open a backend by name: a built-in one or a registered plug-in. Searching an index that was never built is an
 * error, not an empty result.
 */
export async function openRetriever(backend: BackendName | (string & {}), opts: OpenOptions): Promise<Retriever> {
  if (!(BACKENDS as readonly string[]).includes(backend)) return openPlugin(backend, opts);
  return openBuiltIn(backend as BackendName, opts);
}

async function openPlugin(name: string, opts: OpenOptions): Promise<Retriever> {
  const plugin = backendPlugin(name);
  if (!plugin) throw new RangeError(`unknown retrieval backend "${name}": expected one of ${knownBackends().join(', ')}`);
  if (opts.fieldWeights) throw new RangeError(`field weights apply to the ${FIELD_BACKENDS.join(', ')} backends, not ${name}`);
  const missing = (plugin.indexFiles?.(opts.storeDir) ?? []).filter((f) => !existsSync(f));
  if (!opts.build && missing.length > 0)
    throw new IndexMissingError(`no ${name} index in ${opts.storeDir} (missing ${missing.join(', ')}): build it first`);
  return plugin.open({ storeDir: opts.storeDir, build: opts.build, env: opts.env });
}

async function openBuiltIn(backend: BackendName, opts: OpenOptions): Promise<Retriever> {
  if (opts.fieldWeights && !(FIELD_BACKENDS as readonly string[]).includes(backend))
    throw new RangeError(
      `field weights apply to the ${FIELD_BACKENDS.join(', ')} backends, not ${backend} (it embeds title and text only)`,
    );
  const files = indexFiles(opts.storeDir, backend).map((f) => (opts.build ? f + BUILDING : f));
  if (opts.build) for (const f of files) removeSqlite(f);
  const missing = files.filter((f) => !existsSync(f));
  if (!opts.build && missing.length > 0) {
    throw new IndexMissingError(
      `no ${backend} index in ${opts.storeDir} (missing ${missing.join(', ')}): run \`rg index build --store ${opts.storeDir} --backend ${backend}\``,
    );
  }
  const encoder = (): Promise<Embedder> =>
    opts.embedder ? opts.embedder() : SentenceEncoder.miniLM(opts.home ?? join(homedir(), '.cache', 'rg'), { threads: opts.threads });
  // A build takes the vectors of unchanged documents from the current dense index instead of embedding them again.
  const vectorOpts = { ownsEmbedder: true, reuseFrom: opts.build ? indexFiles(opts.storeDir, 'dense')[0] : undefined };
  const dense = async (path: string): Promise<Retriever> => new SqliteVecRetriever(path, await encoder(), vectorOpts);
  switch (backend) {
    case 'sqlite':
      return new SqliteBm25Retriever(files[0], { bulk: opts.build, fieldWeights: opts.fieldWeights });
    case 'dense':
      return dense(files[0]);
    case 'hnsw':
      return new HnswRetriever(files[0], files[1], await encoder(), { ...vectorOpts, params: opts.hnsw });
    case 'hybrid':
      return new HybridRetriever([
        new SqliteBm25Retriever(files[0], { bulk: opts.build, fieldWeights: opts.fieldWeights }),
        await dense(files[1]),
      ]);
    case 'elasticsearch':
      return ElasticsearchRetriever.open({
        url: serverUrl(opts.env, 'RG_ES_URL', backend),
        apiKey: opts.env?.RG_ES_API_KEY,
        index: serverIndexName(opts.storeDir),
        recreate: opts.build,
        createIfMissing: opts.build === true,
        remote: remoteOf(opts),
        fieldWeights: opts.fieldWeights,
      });
    case 'qdrant': {
      const url = serverUrl(opts.env, 'RG_QDRANT_URL', backend);
      const apiKey = opts.env?.RG_QDRANT_API_KEY;
      // Probe before loading the encoder: a dead server should fail in seconds, not after a model load.
      await probeServer({ backend, url }, resolveRemote(remoteOf(opts)), apiKey ? { 'api-key': apiKey } : {});
      const embedder = await encoder();
      try {
        return await QdrantRetriever.open({
          url,
          apiKey,
          collection: serverIndexName(opts.storeDir),
          embedder,
          ownsEmbedder: true,
          recreate: opts.build,
          createIfMissing: opts.build === true,
          remote: remoteOf(opts),
        });
      } catch (e) {
        await embedder.close?.();
        throw e;
      }
    }
  }
}

/** Explicit options win over RG_REMOTE_* in the environment. */
function remoteOf(opts: OpenOptions): RemoteOptions {
  const fromEnv = remoteOptionsFromEnv(opts.env);
  return { ...fromEnv, ...Object.fromEntries(Object.entries(opts.remote ?? {}).filter(([, v]) => v !== undefined)) };
}

/** Replace the current embedded index with the one just built (after the retriever is closed). */
export function commitBuild(storeDir: string, backend: BackendName): void {
  for (const f of indexFiles(storeDir, backend)) {
    removeSqlite(f);
    renameSync(f + BUILDING, f);
  }
}

/** Remove what a failed or interrupted build wrote beside the current index (which stays as it was). */
export function abortBuild(storeDir: string, backend: BackendName): void {
  for (const f of indexFiles(storeDir, backend)) removeSqlite(f + BUILDING);
}

function removeSqlite(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}
