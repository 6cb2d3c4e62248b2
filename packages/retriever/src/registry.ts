import type { FieldWeights } from './fields.js';
import type { RemoteOptions } from './remote.js';
import type { Embedder, Retriever } from './types.js';

/** What `openRetriever` hands a plug-in backend: the store folder and the caller's options (`OpenOptions`). */
export interface PluginOpenOptions {
  storeDir: string;
  /** Open for a build: the plug-in should start an empty index (or replace the old one when it is committed). */
  build?: boolean;
  /** Settings and secrets (e.g. a server URL and API key) the plug-in reads; never logged. */
  env?: NodeJS.ProcessEnv;
  /** RG_HOME: models and caches. */
  home?: string;
  /** onnxruntime intra-op threads. */
  threads?: number;
  /**
   * Makes the caller's embedder (`OpenOptions.embedder`), or by default all-MiniLM-L6-v2 fetched to `home`. Call it
   * only when a vector is needed; the plug-in owns (closes) what it returns.
   */
  embedder: () => Promise<Embedder>;
  /** Timeouts and retries for a server: `OpenOptions.remote` over RG_REMOTE_* of `env` (resolveRemote fills the rest). */
  remote: RemoteOptions;
  /** Lexical field weights; given only to the FIELD_BACKENDS names (others are refused before the plug-in is asked). */
  fieldWeights?: Partial<FieldWeights>;
}

/**
 * A retrieval backend from outside this package, opened by name like the built-in ones. It proves itself with the
 * contract suite of `@rg/retriever/testing` (`retrieverContract(name, () => openRetriever(name, ...))`).
 */
export interface BackendPlugin {
  /**
   * The name `openRetriever` (and whatever passes names on to it) opens it by; not one of the embedded backends'.
   * `elasticsearch` and `qdrant` are the names of @rg/retriever-elasticsearch's and @rg/retriever-qdrant's plug-ins.
   */
  name: string;
  open(options: PluginOpenOptions): Promise<Retriever>;
  /**
   * Files the backend keeps in the store folder (an embedded index): `openRetriever` refuses to open a backend whose
   * files are missing unless it builds. None for a server backend.
   */
  indexFiles?(storeDir: string): string[];
}

const plugins = new Map<string, BackendPlugin>();

/**
 * Makes a backend openable by name. Registering a built-in name, or a name twice with different plug-ins, is an error:
 * which index a name opens must not depend on import order.
 */
export function registerBackend(plugin: BackendPlugin, builtIn: readonly string[]): void {
  if (!/^[a-z][a-z0-9-]*$/.test(plugin.name))
    throw new RangeError(`backend name "${plugin.name}": expected lowercase letters, digits and dashes`);
  if (builtIn.includes(plugin.name)) throw new RangeError(`backend name "${plugin.name}" is built in; pick another`);
  const known = plugins.get(plugin.name);
  if (known && known !== plugin) throw new RangeError(`backend "${plugin.name}" is already registered by another plug-in`);
  plugins.set(plugin.name, plugin);
}

export function backendPlugin(name: string): BackendPlugin | undefined {
  return plugins.get(name);
}

/** Names of the registered plug-ins, sorted. */
export function pluginBackends(): string[] {
  return [...plugins.keys()].sort();
}

/** Forgets a plug-in (tests, or an application that swaps backends at run time). */
export function unregisterBackend(name: string): boolean {
  return plugins.delete(name);
}
