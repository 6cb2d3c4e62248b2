import { benchMain } from '@rg/bench-kit';
import { TRAIN_BENCH } from './spec.js';

// `nx run lora-trainer:bench` (node dist/bench/main.js): the training benchmark without the CLI; `rg bench train` runs
// the same spec.
await benchMain([TRAIN_BENCH]);
