import { benchMain } from '@rg/bench-kit';
import { SERVE_BENCH } from './spec.js';

// `nx run server:bench` (node dist/bench/main.js): the serving benchmark without the CLI; `rg bench serve` runs the
// same spec. The documents are `rg demo`'s (apps/cli/demo), the added one PopQA's (../shared/data).
await benchMain([SERVE_BENCH]);
