import { createHash } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { SentenceEncoder } from '@rg/engine';
import { SqliteVecRetriever } from './dense/sqlite-vec.js';
import type { FieldWeights } from './fields.js';
import { type HnswParams, HnswRetriever } from './hnsw/hnsw.js';
import { HybridRetriever } from './hybrid/rrf.js';
import { type BackendPlugin, backendPlugin, pluginBackends, registerBackend } from './registry.js';
import { envVarOf, type RemoteBackend, type RemoteOptions, remoteOptionsFromEnv } from './remote.js';
import { SqliteBm25Retriever } from './sqlite/bm25.js';
import type { Embedder, Retriever } from './types.js';

/** The backends built into this package: they run inside the process, with their index in the store folder. */
export const EMBEDDED_BACKENDS = ['sqlite', 'dense', 'hnsw', 'hybrid'] as const;
/**
 * The server backends, each a plug-in package of its own (so a user of the embedded backends installs no server
 * client): known names, opened once the application registered the package's plug-in.
 */
export const SERVER_BACKENDS = {
  elasticsearch: { package: '@rg/retriever-elasticsearch', register: 'registerElasticsearch' },
  qdrant: { package: '@rg/retriever-qdrant', register: 'registerQdrant' },
} as const;
/** Every backend name this project knows (what the CLI's `--backend` offers): the embedded ones, then the server ones. */
export const BACKENDS = [...EMBEDDED_BACKENDS, 'elasticsearch', 'qdrant'] as const;
export type BackendName = (typeof BACKENDS)[number];
type EmbeddedBackend = (typeof EMBEDDED_BACKENDS)[number];

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

/** The server a server backend talks to, from its variable in `env` (RG_ES_URL, RG_QDRANT_URL); unset is an error saying so. */
export function serverUrl(env: NodeJS.ProcessEnv | undefined, backend: RemoteBackend): string {
  const name = envVarOf(backend);
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
 * Makes an outside backend openable by name (`openRetriever(plugin.name, ...)`). The embedded backends' names cannot
 * be taken; the server backends' names are for their packages' plug-ins.
 */
export function registerRetrieverBackend(plugin: BackendPlugin): void {
  registerBackend(plugin, EMBEDDED_BACKENDS);
}

/** Every name `openRetriever` knows: the project's backends (BACKENDS), then the other registered plug-ins. */
export function knownBackends(): string[] {
  return [...new Set<string>([...BACKENDS, ...pluginBackends()])];
}

/**
 * Open a backend by name: an embedded one or a registered plug-in (the server backends are plug-ins). Searching an
 * index that was never built is an error, not an empty result.
 */
export async function openRetriever(backend: BackendName | (string & {}), opts: OpenOptions): Promise<Retriever> {
  if (opts.fieldWeights && !(FIELD_BACKENDS as readonly string[]).includes(backend))
    throw new RangeError(
      `field weights apply to the ${FIELD_BACKENDS.join(', ')} backends, not ${backend}` +
        ((BACKENDS as readonly string[]).includes(backend) ? ' (it embeds title and text only)' : ''),
    );
  if ((EMBEDDED_BACKENDS as readonly string[]).includes(backend)) return openEmbedded(backend as EmbeddedBackend, opts);
  return openPlugin(backend, opts);
}

async function openPlugin(name: string, opts: OpenOptions): Promise<Retriever> {
  const plugin = backendPlugin(name);
  if (!plugin) {
    const server = SERVER_BACKENDS[name as keyof typeof SERVER_BACKENDS];
    if (server)
      throw new RangeError(
        `backend ${name}: install and register ${server.package} (\`${server.register}()\` once at start, before opening it)`,
      );
    throw new RangeError(`unknown retrieval backend "${name}": expected one of ${knownBackends().join(', ')}`);
  }
  const missing = (plugin.indexFiles?.(opts.storeDir) ?? []).filter((f) => !existsSync(f));
  if (!opts.build && missing.length > 0)
    throw new IndexMissingError(`no ${name} index in ${opts.storeDir} (missing ${missing.join(', ')}): build it first`);
  return plugin.open({
    storeDir: opts.storeDir,
    build: opts.build,
    env: opts.env,
    home: opts.home,
    threads: opts.threads,
    embedder: embedderOf(opts),
    remote: remoteOf(opts),
    fieldWeights: opts.fieldWeights,
  });
}

/** The caller's embedder, or all-MiniLM-L6-v2 on @rg/engine (fetched to `home`). */
function embedderOf(opts: OpenOptions): () => Promise<Embedder> {
  return () =>
    opts.embedder ? opts.embedder() : SentenceEncoder.miniLM(opts.home ?? join(homedir(), '.cache', 'rg'), { threads: opts.threads });
}

async function openEmbedded(backend: EmbeddedBackend, opts: OpenOptions): Promise<Retriever> {
  const files = indexFiles(opts.storeDir, backend).map((f) => (opts.build ? f + BUILDING : f));
  if (opts.build) for (const f of files) removeSqlite(f);
  const missing = files.filter((f) => !existsSync(f));
  if (!opts.build && missing.length > 0) {
    throw new IndexMissingError(
      `no ${backend} index in ${opts.storeDir} (missing ${missing.join(', ')}): run \`rg index build --store ${opts.storeDir} --backend ${backend}\``,
    );
  }
  const encoder = embedderOf(opts);
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
