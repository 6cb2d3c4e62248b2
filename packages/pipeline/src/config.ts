import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** A bad setting: its source (flag, environment, file) and key named. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Settings shared by every command and by the server. Precedence: command-line flags, then RG_* environment
 * variables, then an optional rg.config.json (in the working directory or at --config).
 */
export const ConfigSchema = z
  .object({
    home: z.string().min(1).describe('where models and caches live (RG_HOME)'),
    model: z.string().min(1).describe('model name, .gguf path or Hugging Face folder (RG_MODEL)'),
    threads: z.number().int().min(1).max(256).describe('intra-op threads for onnxruntime (RG_THREADS)'),
    logLevel: z.enum(['silent', 'error', 'warn', 'info', 'debug']).describe('RG_LOG_LEVEL'),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

const ENV_KEYS: Record<keyof Config, string> = {
  home: 'RG_HOME',
  model: 'RG_MODEL',
  threads: 'RG_THREADS',
  logLevel: 'RG_LOG_LEVEL',
};

export function defaultConfig(): Config {
  return {
    home: join(homedir(), '.cache', 'rg'),
    model: 'smollm2-135m-instruct',
    threads: 2,
    logLevel: 'info',
  };
}

export interface ConfigSources {
  flags?: Partial<Record<keyof Config, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** Explicit path to a config file; when absent, ./rg.config.json is read if present. */
  configPath?: string;
  cwd?: string;
}

/** Resolve the configuration, naming the source and key of any bad value. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const merged: Record<string, unknown> = { ...defaultConfig() };

  const filePath = sources.configPath ? resolve(cwd, sources.configPath) : join(cwd, 'rg.config.json');
  if (sources.configPath || existsSync(filePath)) {
    const fromFile = readConfigFile(filePath);
    const known = new Set(Object.keys(ENV_KEYS));
    for (const key of Object.keys(fromFile)) {
      if (!known.has(key)) throw new ConfigError(`${filePath}: unknown key "${key}" (expected one of: ${[...known].join(', ')})`);
    }
    Object.assign(merged, fromFile);
    check(merged, filePath);
  }

  for (const [key, envName] of Object.entries(ENV_KEYS) as Array<[keyof Config, string]>) {
    const raw = env[envName];
    if (raw === undefined || raw === '') continue;
    merged[key] = key === 'threads' ? parseIntStrict(raw, envName) : raw;
  }
  check(merged, 'environment');

  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (value !== undefined) merged[key] = value;
  }
  return check(merged, 'command line');
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${path}: expected a JSON object of settings`);
  }
  return parsed as Record<string, unknown>;
}

function check(value: Record<string, unknown>, source: string): Config {
  const result = ConfigSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue.path.join('.') || '(root)';
  const envHint = ENV_KEYS[key as keyof Config] ? ` (${ENV_KEYS[key as keyof Config]})` : '';
  throw new ConfigError(`invalid config from ${source}: "${key}"${envHint}: ${issue.message}`);
}

function parseIntStrict(raw: string, name: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`invalid config from environment: ${name}="${raw}" is not an integer`);
  return Number.parseInt(raw, 10);
}
