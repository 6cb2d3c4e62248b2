import { benchMain } from '@rg/bench-kit';
import { ADAPTER_DTYPE_BENCH, GENERATE_BENCH } from './spec.js';

// `nx run engine:bench [generate|adapter-dtype]` (node dist/bench/main.js): the engine's benchmarks without the CLI;
// `rg bench generate` and `rg bench adapter-dtype` run the same specs.
await benchMain([GENERATE_BENCH, ADAPTER_DTYPE_BENCH]);
