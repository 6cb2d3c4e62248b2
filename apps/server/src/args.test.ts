import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArgsError, parseServerArgs } from './args.js';

describe('parseServerArgs', () => {
  it('takes repeated --collection, flags over RG_* environment, and the key only from the environment', () => {
    const options = parseServerArgs(
      [
        '--collection',
        'one',
        '--collection',
        'two',
        '--port',
        '0',
        '--threads',
        '3',
        '--timeout',
        '30',
        '--log-level',
        'debug',
        '--max-queue',
        '0',
        '--batch',
        '4',
        '--worker',
        '--weights',
        'q8',
        '--training-pause',
        '0',
        '--no-warm',
      ],
      { RG_MODEL: 'x.gguf', RG_HOME: '/h', RG_THREADS: '1', RG_SERVER_API_KEY: 'k' },
    );
    expect(options).toEqual({
      collections: ['one', 'two'],
      host: '127.0.0.1',
      port: 0,
      model: 'x.gguf',
      home: '/h',
      threads: 3,
      batch: 4,
      worker: true,
      weightFormat: 'q8',
      concurrency: 4,
      maxQueue: 0,
      requestTimeoutMs: 30_000,
      logLevel: 'debug',
      trainingMaxPauseMs: 0,
      warmAdapters: false,
      apiKey: 'k',
    });
  });

  it('defaults to the embedded model, loopback, port 8080, no key', () => {
    const options = parseServerArgs([], {});
    expect(options).toMatchObject({
      collections: [],
      host: '127.0.0.1',
      port: 8080,
      model: 'smollm2-135m-instruct',
      threads: 2,
      batch: 8,
      worker: false,
      weightFormat: 'f32',
      concurrency: 8,
      logLevel: 'warn',
      trainingMaxPauseMs: 10_000,
      warmAdapters: true,
    });
    expect(options !== 'help' && options.home.endsWith('/.cache/rg')).toBe(true);
    expect(options !== 'help' && options.apiKey).toBeUndefined();
  });

  it('--batch 1 decodes each generation alone; --concurrency is then independent of it', () => {
    expect(parseServerArgs(['--batch', '1', '--concurrency', '2'], {})).toMatchObject({ batch: 1, concurrency: 2 });
    expect(() => parseServerArgs(['--batch', '0'], {})).toThrow('--batch: expected a positive integer, got "0"');
  });

  it('names the flag and what it expected', () => {
    expect(() => parseServerArgs(['--port', 'http'], {})).toThrow(new ArgsError('--port: expected a non-negative integer, got "http"'));
    expect(() => parseServerArgs(['--threads', '0'], {})).toThrow('--threads: expected a positive integer, got "0"');
    expect(() => parseServerArgs(['--log-level', 'loud'], {})).toThrow(
      '--log-level: expected one of silent, error, warn, info, debug, got "loud"',
    );
    expect(() => parseServerArgs(['--weights', 'q2'], {})).toThrow('--weights: expected one of f32, q4, q8, got "q2"');
    expect(() => parseServerArgs(['--api-key', 'k'], {})).toThrow(ArgsError);
    expect(parseServerArgs(['--help'], {})).toBe('help');
  });

  it('reads model, home and threads from ./rg.config.json as rg does, under the environment and the flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-server-args-'));
    writeFileSync(join(dir, 'rg.config.json'), JSON.stringify({ model: 'file.gguf', home: '/file-home', threads: 3 }));
    expect(parseServerArgs([], {}, dir)).toMatchObject({ model: 'file.gguf', home: '/file-home', threads: 3 });
    expect(parseServerArgs(['--threads', '1'], { RG_HOME: '/env-home' }, dir)).toMatchObject({
      model: 'file.gguf',
      home: '/env-home',
      threads: 1,
    });
    writeFileSync(join(dir, 'rg.config.json'), JSON.stringify({ threads: 0 }));
    expect(() => parseServerArgs([], {}, dir)).toThrow(/rg\.config\.json: "threads" \(RG_THREADS\)/);
  });
});
