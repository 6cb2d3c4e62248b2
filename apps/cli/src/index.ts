export { type Config, ConfigSchema, defaultConfig, loadConfig } from '@rg/pipeline';
export { ExitCode, InterruptedError, NotBuiltError, UsageError } from './errors.js';
export { buildProgram, main, VERSION } from './main.js';
