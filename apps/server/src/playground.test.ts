import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, harness } from './test-helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.drain();
});

describe('the playground files', () => {
  it('serves the page, its module and its style sheet without the API key, under a policy that allows only them', async () => {
    h = harness({ apiKey: 'sk-playground' });
    const page = await h.app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<script type="module" src="/playground.js"></script>');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    const script = await h.app.inject({ method: 'GET', url: '/playground.js' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // Model and document text only ever reach the page as text.
    expect(script.body).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(script.body).toContain('sessionStorage');
    expect(script.body).not.toContain('localStorage');
    expect((await h.app.inject({ method: 'GET', url: '/playground.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
    // Nothing the page loads comes from elsewhere (it must work offline).
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    // The API behind it still needs the key.
    expect((await h.app.inject({ method: 'GET', url: '/v1/models' })).statusCode).toBe(401);
  });
});
