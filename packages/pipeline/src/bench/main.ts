import { benchMain } from '@rg/bench-kit';
import { E2E_BENCH } from './e2e-spec.js';
import { CLUSTER_BENCH, RETRIEVE_BENCH } from './spec.js';

// `nx run pipeline:bench [retrieve|cluster|e2e]` (node dist/bench/main.js): the retrieval and cluster-routing benchmarks and the
// end-to-end table without the CLI; `rg bench retrieve|cluster|e2e` run the same specs. Data default to the repository's
// ../shared/data.
await benchMain([RETRIEVE_BENCH, CLUSTER_BENCH, E2E_BENCH]);
