import type { ClusterModel, KReport } from '@rg/clustering';

/** What `rg cluster` and `rg cluster show` print with --json. */
export function summarize(model: ClusterModel, file: string) {
  return {
    file,
    k: model.k,
    dims: model.dims,
    seed: model.seed,
    documents: model.assignments.size,
    fittedOn: model.fittedOn,
    iterations: model.iterations,
    converged: model.converged,
    inertia: model.inertia,
    pick: model.pick,
    clusters: model.sizes.map((size, cluster) => ({
      cluster,
      size,
      representatives: model.representatives[cluster].map((r) => r.id),
    })),
  };
}

export function formatSummary(s: ReturnType<typeof summarize>): string {
  const lines = [
    `${s.documents} documents in k=${s.k} clusters (seed ${s.seed}, fitted on ${s.fittedOn}, ${s.iterations} iterations${
      s.converged ? ', converged' : ', NOT converged: raise --max-iterations'
    })`,
    `inertia ${s.inertia.toPrecision(6)}; representatives picked by ${s.pick}`,
    'cluster  size  representatives',
  ];
  for (const c of s.clusters) {
    lines.push(`${String(c.cluster).padStart(7)}  ${String(c.size).padStart(4)}  ${c.representatives.join(', ')}`);
  }
  lines.push(`saved in ${s.file}`);
  return lines.join('\n');
}

export function formatKReports(reports: KReport[]): string {
  const lines = ['    k      inertia  silhouette  smallest  largest'];
  for (const r of reports) {
    lines.push(
      `${String(r.k).padStart(5)}  ${r.inertia.toPrecision(6).padStart(11)}  ${(r.silhouette === null ? '-' : r.silhouette.toFixed(4)).padStart(10)}  ${String(r.minSize).padStart(8)}  ${String(r.maxSize).padStart(7)}`,
    );
  }
  const n = reports[0]?.silhouetteSampleSize;
  if (n !== undefined) lines.push(`silhouette over ${n} documents; choose k at the elbow of inertia or the highest silhouette`);
  return lines.join('\n');
}
