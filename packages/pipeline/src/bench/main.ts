import { benchMain } from '@rg/bench-kit';
import { CLUSTER_BENCH, RETRIEVE_BENCH } from './spec.js';

// `nx run pipeline:bench [retrieve|cluster]` (node dist/bench/main.js): the retrieval and cluster-routing benchmarks
// without the CLI; `rg bench retrieve` and `rg bench cluster` run the same specs. Data default to the repository's
// ../shared/data.
await benchMain([RETRIEVE_BENCH, CLUSTER_BENCH]);
