import { afterEach, describe, expect, it } from 'vitest';
import { chat, type Harness, harness } from './test-helpers/harness.js';

const KEY = 'sk-test-5f2c9a1e7b';
let h: Harness;
afterEach(async () => {
  await h?.drain();
});

describe('API key (RG_SERVER_API_KEY)', () => {
  it('refuses a request without the key, with a wrong one, or with a prefix of it, and takes the right one', async () => {
    h = harness({ apiKey: KEY });
    const post = (authorization?: string) =>
      h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('q'), headers: authorization ? { authorization } : {} });
    const none = await post();
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.json().error).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
    for (const wrong of [`Bearer ${KEY}x`, `Bearer ${KEY.slice(0, -1)}`, 'Bearer nope', `Basic ${KEY}`]) {
      const res = await post(wrong);
      expect(res.statusCode, wrong).toBe(401);
    }
    expect(h.a.requests).toHaveLength(0);
    const ok = await post(`Bearer ${KEY}`);
    expect(ok.statusCode).toBe(200);
    expect(h.a.requests).toHaveLength(1);
  });

  it('guards every route but /healthz, unknown routes included', async () => {
    h = harness({ apiKey: KEY });
    expect((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    for (const url of ['/v1/models', '/metrics', '/v1/documents/x', '/v1/jobs/x', '/nowhere']) {
      expect((await h.app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
    }
    expect((await h.app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(200);
  });

  it('never writes the key to the log, even with per-request debug logging', async () => {
    h = harness({ apiKey: KEY, logLevel: 'debug' });
    await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('q'), headers: { authorization: `Bearer ${KEY}` } });
    await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: chat('q'),
      headers: { authorization: `Bearer ${KEY}-wrong` },
    });
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.join('')).not.toContain(KEY);
  });

  it('needs no key when none is configured', async () => {
    h = harness();
    expect((await h.app.inject({ method: 'GET', url: '/v1/models' })).statusCode).toBe(200);
  });
});
