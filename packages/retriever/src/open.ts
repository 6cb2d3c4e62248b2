import { existsSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SentenceEncoder } from '@rg/engine';
import { SqliteVecRetriever } from './dense/sqlite-vec.js';
import { HybridRetriever } from './hybrid/rrf.js';
import { SqliteBm25Retriever } from './sqlite/bm25.js';
import type { Retriever } from './types.js';

export const BACKENDS = ['sqlite', 'dense', 'hybrid'] as const;
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
  /** onnxruntime intra-op threads for the dense encoder. */
  threads?: number;
}

const BUILDING = '.building';

/** Files an embedded backend keeps under `<store>/index/`. */
export function indexFiles(storeDir: string, backend: BackendName): string[] {
  const dir = join(storeDir, 'index');
  switch (backend) {
    case 'sqlite':
      return [join(dir, 'bm25.sqlite')];
    case 'dense':
      return [join(dir, 'dense.sqlite')];
    case 'hybrid':
      return [...indexFiles(storeDir, 'sqlite'), ...indexFiles(storeDir, 'dense')];
  }
}

export class IndexMissingError extends Error {
  override name = 'IndexMissingError';
}

/** Open a backend by name. Searching an index that was never built is an error, not an empty result. */
export async function openRetriever(backend: BackendName, opts: OpenOptions): Promise<Retriever> {
  const files = indexFiles(opts.storeDir, backend).map((f) => (opts.build ? f + BUILDING : f));
  if (opts.build) for (const f of files) removeSqlite(f);
  const missing = files.filter((f) => !existsSync(f));
  if (!opts.build && missing.length > 0) {
    throw new IndexMissingError(
      `no ${backend} index in ${opts.storeDir} (missing ${missing.join(', ')}): run \`rg index build --store ${opts.storeDir} --backend ${backend}\``,
    );
  }
  const dense = async (path: string): Promise<Retriever> => {
    const encoder = await SentenceEncoder.miniLM(opts.home ?? join(homedir(), '.cache', 'rg'), { threads: opts.threads });
    return new SqliteVecRetriever(path, encoder, { ownsEmbedder: true });
  };
  switch (backend) {
    case 'sqlite':
      return new SqliteBm25Retriever(files[0], { bulk: opts.build });
    case 'dense':
      return dense(files[0]);
    case 'hybrid':
      return new HybridRetriever([new SqliteBm25Retriever(files[0], { bulk: opts.build }), await dense(files[1])]);
  }
}

/** Replace the current embedded index with the one just built (after the retriever is closed). */
export function commitBuild(storeDir: string, backend: BackendName): void {
  for (const f of indexFiles(storeDir, backend)) {
    removeSqlite(f);
    renameSync(f + BUILDING, f);
  }
}

function removeSqlite(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}
