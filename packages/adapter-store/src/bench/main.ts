import { benchMain } from '@rg/bench-kit';
import { STORE_BENCH } from './spec.js';

// `nx run adapter-store:bench` (node dist/bench/main.js): the store benchmark without the CLI; `rg bench store` runs
// the same spec.
await benchMain([STORE_BENCH]);
