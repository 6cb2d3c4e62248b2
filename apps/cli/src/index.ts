export { type Config, ConfigSchema, defaultConfig, loadConfig } from './config.js';
export { ExitCode, InterruptedError, NotBuiltError, UsageError } from './errors.js';
export { buildProgram, main, VERSION } from './main.js';
