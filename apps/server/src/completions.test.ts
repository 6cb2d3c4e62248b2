import { RequestError } from '@rg/pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { chat, errorOf, type Harness, harness, listening, sseData } from './test-helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.drain();
});

describe('POST /v1/chat/completions (not streamed)', () => {
  it('answers in the OpenAI shape with usage and the rg extension', async () => {
    h = harness();
    h.a.addDocument({ id: 'd1', text: 'Paris is the capital of France.' });
    const res = await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('Capital of France?') });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(body.object).toBe('chat.completion');
    expect(Number.isInteger(body.created)).toBe(true);
    expect(body.model).toBe('rg:a');
    expect(body.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'Paris is the capital.', refusal: null }, logprobs: null, finish_reason: 'stop' },
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    expect(body.rg).toEqual({
      method: 'cat_all_one',
      documents: [{ id: 'd1', score: 10 }],
      adapters: [],
      missing_adapters: ['d1'],
      timings: { retrieve_ms: 1, fetch_ms: 2, compose_ms: 3, prefill_ms: 4, decode_ms: 5 },
      timed_out: false,
    });
  });

  it('maps max_tokens, temperature, seed, messages and the rg knobs onto the answer request', async () => {
    h = harness();
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: {
        model: 'rg:b',
        messages: [
          { role: 'developer', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Capital ' },
              { type: 'text', text: 'of Germany?' },
            ],
          },
        ],
        max_tokens: 1,
        temperature: 0.7,
        seed: 42,
        rg: { method: 'combine', k: 3, compose: 'mean', adapters: [{ id: 'x', weight: 0.5 }, { id: 'y' }] },
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().choices[0]).toMatchObject({ message: { content: 'Berlin' }, finish_reason: 'length' });
    expect(res.json().rg.adapters).toEqual([
      { id: 'x', weight: 0.5 },
      { id: 'y', weight: 1 },
    ]);
    expect(h.a.requests).toHaveLength(0);
    const asked = h.b.requests[0];
    expect(asked).toMatchObject({
      question: 'Capital of Germany?',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Capital of Germany?' },
      ],
      maxNewTokens: 1,
      temperature: 0.7,
      seed: 42,
      method: 'combine',
      k: 3,
      compose: 'mean',
      adapters: [{ id: 'x', weight: 0.5 }, { id: 'y' }],
    });
    expect(asked.raw).toBeUndefined();
  });

  it('takes max_completion_tokens as max_tokens', async () => {
    h = harness();
    await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('q', { max_completion_tokens: 2 }) });
    expect(h.a.requests[0].maxNewTokens).toBe(2);
  });

  it('sends the base model name and a missing model to the default collection, and an unknown one to 404', async () => {
    h = harness();
    const byBase = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: chat('q', { model: 'smollm2-135m-instruct' }),
    });
    expect(byBase.json().model).toBe('rg:a');
    const { model: _, ...noModel } = chat('q');
    const byNone = await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: noModel });
    expect(byNone.json().model).toBe('rg:a');
    expect(h.a.requests).toHaveLength(2);
    const unknown = await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('q', { model: 'gpt-4o' }) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toMatchObject({ param: 'model', code: 'model_not_found', type: 'not_found_error' });
    expect(unknown.json().error.message).toContain('rg:a, rg:b');
  });
});

describe('request validation', () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['no messages', { model: 'rg:a' }, 'messages', /messages: required/],
    ['an empty message list', { messages: [] }, 'messages', /messages: must NOT have fewer than 1 items/],
    [
      'a bad role',
      { messages: [{ role: 'robot', content: 'x' }] },
      'messages[0].role',
      /messages\[0\]\.role: expected one of "system", "developer", "user", "assistant"/,
    ],
    ['a number as content', { messages: [{ role: 'user', content: 3 }] }, 'messages[0].content', /expected string or array/],
    [
      'an unknown method',
      { ...chat('q'), rg: { method: 'magic' } },
      'rg.method',
      /rg\.method: expected one of "wo_param", "icl", "cat_all_one", "combine"/,
    ],
    ['a misspelt rg knob', { ...chat('q'), rg: { kk: 3 } }, 'rg.kk', /rg\.kk: unknown field/],
    ['k as a string (no coercion)', { ...chat('q'), rg: { k: '3' } }, 'rg.k', /rg\.k: expected integer/],
    ['k out of range', { ...chat('q'), rg: { k: 99 } }, 'rg.k', /rg\.k: must be <= 16/],
    ['an adapter without id', { ...chat('q'), rg: { adapters: [{ weight: 1 }] } }, 'rg.adapters[0].id', /rg\.adapters\[0\]\.id: required/],
    ['a negative max_tokens', chat('q', { max_tokens: 0 }), 'max_tokens', /max_tokens: must be >= 1/],
    ['a stop sequence', chat('q', { stop: ['\n'] }), 'stop', /stop: stop sequences are not supported/],
    ['n > 1', chat('q', { n: 2 }), 'n', /n: only n=1 is supported/],
    [
      'tools',
      chat('q', { tools: [{ type: 'function', function: { name: 'f' } }] }),
      'tools',
      /tools: tool and function calling are not supported/,
    ],
    [
      'an assistant turn last',
      { messages: [{ role: 'assistant', content: 'hi' }] },
      'messages[0].role',
      /the last message must be the user's question/,
    ],
    [
      'adapters with a method that applies none',
      { ...chat('q'), rg: { method: 'icl', adapters: [{ id: 'x' }] } },
      'rg.adapters',
      /method icl applies no adapters/,
    ],
    ['another backend', { ...chat('q'), rg: { backend: 'qdrant' } }, 'rg.backend', /"bm25" backend only; "qdrant" is not available/],
  ];
  it.each(cases)('answers 400 naming the field for %s', async (_name, payload, param, message) => {
    h = harness();
    const res = await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload });
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.param).toBe(param);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toMatch(message);
    expect(h.a.requests).toHaveLength(0);
  });

  it('answers 400 for malformed JSON', async () => {
    h = harness();
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      payload: '{"messages": [',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid_request_error');
  });

  it('refuses completion-only options on /v1/completions', async () => {
    h = harness();
    const echo = await h.app.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: 'x', echo: true } });
    expect(echo.json().error).toMatchObject({ param: 'echo', code: 'unsupported' });
    const many = await h.app.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: ['x', 'y'] } });
    expect(many.json().error).toMatchObject({ param: 'prompt' });
  });
});

describe('POST /v1/completions', () => {
  it('continues a raw prompt and answers in the text_completion shape', async () => {
    h = harness();
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/completions',
      payload: { model: 'rg:a', prompt: 'The capital of France', max_tokens: 2 },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.object).toBe('text_completion');
    expect(body.choices).toEqual([{ index: 0, text: 'Paris is', logprobs: null, finish_reason: 'length' }]);
    expect(h.a.requests[0]).toMatchObject({ question: 'The capital of France', raw: true, maxNewTokens: 2 });
    expect(h.a.requests[0].messages).toBeUndefined();
  });
});

describe('streaming (SSE)', () => {
  it('frames chat chunks as data events: role first, one per delta, the finish chunk with rg, usage on request, then [DONE]', async () => {
    h = harness();
    const url = await listening(h);
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('q', { stream: true, stream_options: { include_usage: true } })),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const data = sseData(await res.text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const c of chunks) expect(c).toMatchObject({ object: 'chat.completion.chunk', model: 'rg:a' });
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const deltas = chunks.slice(1, 6).map((c) => c.choices[0].delta.content);
    expect(deltas).toEqual(['Paris', ' is', ' the', ' capital', '.']);
    const finish = chunks[6];
    expect(finish.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });
    expect(finish.rg.timings.decode_ms).toBe(5);
    expect(chunks[7]).toMatchObject({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 5, total_tokens: 6 } });
    expect(chunks).toHaveLength(8);
  });

  it('streams text_completion chunks for /v1/completions, without a usage chunk unless asked', async () => {
    h = harness();
    const url = await listening(h);
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'rg:b', prompt: 'x', stream: true }),
    });
    const data = sseData(await res.text());
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.map((c) => c.choices[0].text)).toEqual(['', 'Berlin', '.', '']);
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1).rg).toBeDefined();
  });

  it('answers a schema error with 400 before any event', async () => {
    h = harness();
    const url = await listening(h);
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('q', { stream: true, n: 3 })),
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).param).toBe('n');
  });

  it('a request the collection refuses is a 400 naming the rg field, or an error event once streaming', async () => {
    h = harness();
    h.a.refuseAnswer = new RequestError('answer', 'adapters[1]', 'expected { id: string, weight?: finite number }');
    const res = await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('q') });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({
      message: 'rg.adapters[1]: expected { id: string, weight?: finite number }',
      param: 'rg.adapters[1]',
      type: 'invalid_request_error',
    });
    const url = await listening(h);
    const streamed = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('q', { stream: true })),
    });
    const events = sseData(await streamed.text()).map((d) => JSON.parse(d));
    expect(events.at(-1).error).toMatchObject({ param: 'rg.adapters[1]', type: 'invalid_request_error' });
  });
});
