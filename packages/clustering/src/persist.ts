import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { type ClusterModel, clusterMembers, type Representative } from './clusters.js';
import { ClusteringInputError } from './vectors.js';

const FORMAT = 'rg-clusters';
const VERSION = 1;

/** Writes the model as JSON atomically: a temp file in the same folder, fsync, rename, fsync of the folder. */
export function saveClusters(path: string, model: ClusterModel): void {
  const file = {
    format: FORMAT,
    version: VERSION,
    k: model.k,
    dims: model.dims,
    seed: model.seed,
    maxIterations: model.maxIterations,
    tolerance: model.tolerance,
    sampleSize: model.sampleSize,
    fittedOn: model.fittedOn,
    iterations: model.iterations,
    converged: model.converged,
    inertia: model.inertia,
    pick: model.pick,
    m: model.m,
    sizes: model.sizes,
    centroids: model.centroids,
    representatives: model.representatives,
    members: clusterMembers(model),
  };
  writeFileAtomic(path, `${JSON.stringify(file)}\n`);
}

export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Reads a file written by `saveClusters`; every field is checked and an error names the file and the field. */
export function loadClusters(path: string): ClusterModel {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ClusteringInputError(`${path}: not a readable JSON clusters file (${(e as Error).message})`);
  }
  const bad = (field: string, expected: string): never => {
    throw new ClusteringInputError(`${path}: field '${field}' is invalid, expected ${expected}`);
  };
  if (typeof raw !== 'object' || raw === null) return bad('(root)', 'an object');
  const f = raw as Record<string, unknown>;
  if (f.format !== FORMAT) bad('format', `'${FORMAT}'`);
  if (f.version !== VERSION) bad('version', String(VERSION));
  const int = (name: string, min: number): number => {
    const v = f[name];
    return typeof v === 'number' && Number.isInteger(v) && v >= min ? v : bad(name, `an integer >= ${min}`);
  };
  const num = (name: string): number => {
    const v = f[name];
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : bad(name, 'a finite number >= 0');
  };
  const k = int('k', 1);
  const dims = int('dims', 1);
  const m = int('m', 0);
  const sampleSize = f.sampleSize === null ? null : int('sampleSize', 1);
  if (typeof f.converged !== 'boolean') bad('converged', 'true or false');
  if (f.pick !== 'centroid' && f.pick !== 'sample') bad('pick', "'centroid' or 'sample'");
  const list = (name: string): unknown[] => {
    const v = f[name];
    return Array.isArray(v) && v.length === k ? v : bad(name, `an array of ${k} entries (one per cluster)`);
  };
  const centroids = list('centroids').map((c, i) =>
    Array.isArray(c) && c.length === dims && c.every((x) => typeof x === 'number' && Number.isFinite(x))
      ? (c as number[])
      : bad(`centroids[${i}]`, `${dims} finite numbers`),
  );
  const sizes = list('sizes').map((s, i) =>
    typeof s === 'number' && Number.isInteger(s) && s >= 0 ? s : bad(`sizes[${i}]`, 'an integer >= 0'),
  );
  const assignments = new Map<string, number>();
  list('members').forEach((ids, c) => {
    if (!Array.isArray(ids) || ids.length !== sizes[c]) bad(`members[${c}]`, `an array of ${sizes[c]} document ids (sizes[${c}])`);
    for (const id of ids as unknown[]) {
      if (typeof id !== 'string' || id === '') bad(`members[${c}]`, 'non-empty string ids');
      if (assignments.has(id as string)) bad(`members[${c}]`, `each document in one cluster ('${id}' is in two)`);
      assignments.set(id as string, c);
    }
  });
  const representatives = list('representatives').map((reps, c): Representative[] => {
    if (!Array.isArray(reps) || reps.length > m) bad(`representatives[${c}]`, `an array of at most ${m} entries`);
    return (reps as unknown[]).map((r) => {
      const rep = r as Representative;
      if (typeof rep?.id !== 'string' || typeof rep.key !== 'number' || !Number.isFinite(rep.key)) {
        bad(`representatives[${c}]`, 'entries {id: string, key: number}');
      }
      if (assignments.get(rep.id) !== c) bad(`representatives[${c}]`, `members of cluster ${c} ('${rep.id}' is not)`);
      return { id: rep.id, key: rep.key };
    });
  });
  return {
    k,
    dims,
    seed: int('seed', 0),
    maxIterations: int('maxIterations', 1),
    tolerance: num('tolerance'),
    sampleSize,
    fittedOn: int('fittedOn', 1),
    iterations: int('iterations', 0),
    converged: f.converged as boolean,
    centroids,
    assignments,
    sizes,
    inertia: num('inertia'),
    pick: f.pick as 'centroid' | 'sample',
    m,
    representatives,
  };
}
