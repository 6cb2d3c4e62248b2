import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from './config.js';

function dirWith(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'rg-config-'));
  writeFileSync(join(dir, 'rg.config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

describe('loadConfig', () => {
  it('uses defaults when nothing is set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-config-'));
    expect(loadConfig({ env: {}, cwd: dir })).toEqual(defaultConfig());
  });

  it('flags beat env, env beats the file', () => {
    const dir = dirWith({ threads: 3, model: 'from-file', home: '/file' });
    const env = { RG_THREADS: '5', RG_HOME: '/env' };
    const c = loadConfig({ env, cwd: dir, flags: { threads: 7 } });
    expect(c.threads).toBe(7);
    expect(c.home).toBe('/env');
    expect(c.model).toBe('from-file');
  });

  it('names the bad key and its source', () => {
    expect(() => loadConfig({ env: {}, cwd: dirWith({ threads: 0 }) })).toThrow(/rg\.config\.json: "threads" \(RG_THREADS\)/);
    expect(() => loadConfig({ env: { RG_LOG_LEVEL: 'loud' }, cwd: dirWith({}) })).toThrow(/environment: "logLevel" \(RG_LOG_LEVEL\)/);
    expect(() => loadConfig({ env: {}, cwd: dirWith('{ nope') })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ env: {}, cwd: dirWith([1]) })).toThrow(/expected a JSON object/);
  });

  it('an explicit --config that does not exist is an error, not silently ignored', () => {
    expect(() => loadConfig({ env: {}, configPath: '/nonexistent/rg.json' })).toThrow(ConfigError);
  });
});
