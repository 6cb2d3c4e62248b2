import { RequestError } from '@rg/pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, harness } from './test-helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.drain();
});

describe('documents and jobs', () => {
  it('adds a document with 202 and a job, then reads back the job and the document', async () => {
    h = harness();
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/documents',
      payload: { text: 'Mount Kolt is 2,417 m high.', title: 'Kolt', id: 'kolt', metadata: { source: 'atlas', year: 1999, checked: true } },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ object: 'rg.job', job_id: 'job-1', document_id: 'kolt', collection: 'a' });
    expect(res.headers.location).toBe('/v1/jobs/job-1?collection=a');

    const queued = await h.app.inject({ method: 'GET', url: '/v1/jobs/job-1' });
    expect(queued.json()).toMatchObject({
      id: 'job-1',
      object: 'rg.job',
      collection: 'a',
      kind: 'add',
      document_id: 'kolt',
      state: 'queued',
      step: null,
      error: null,
    });
    h.a.completeJob('job-1');
    const done = await h.app.inject({ method: 'GET', url: '/v1/jobs/job-1' });
    expect(done.json()).toMatchObject({ state: 'done', step: 'encode' });

    const doc = await h.app.inject({ method: 'GET', url: '/v1/documents/kolt' });
    expect(doc.json()).toEqual({
      id: 'kolt',
      object: 'rg.document',
      collection: 'a',
      title: 'Kolt',
      text: 'Mount Kolt is 2,417 m high.',
      metadata: { source: 'atlas', year: 1999, checked: true },
      has_adapter: true,
    });
  });

  it('answers 400 naming the field when the collection refuses the document; other errors stay 500', async () => {
    h = harness();
    h.a.refuseAdd = new RequestError('addDocument', 'metadata.year', 'expected a string, number or boolean, got object');
    const res = await h.app.inject({ method: 'POST', url: '/v1/documents', payload: { text: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toEqual({
      message: 'metadata.year: expected a string, number or boolean, got object',
      type: 'invalid_request_error',
      param: 'metadata.year',
      code: 'invalid_value',
    });
    // A TypeError is a bug somewhere, not the client's request.
    h.a.refuseAdd = new TypeError('id: looks like a field but is not a RequestError');
    expect((await h.app.inject({ method: 'POST', url: '/v1/documents', payload: { text: 'x' } })).statusCode).toBe(500);
  });

  it('deletes a document, then answers 404 for it', async () => {
    h = harness();
    h.a.addDocument({ id: 'd', text: 'x' });
    const del = await h.app.inject({ method: 'DELETE', url: '/v1/documents/d' });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ id: 'd', object: 'rg.document', collection: 'a', deleted: true });
    expect(h.a.document('d')).toBeUndefined();
    const again = await h.app.inject({ method: 'DELETE', url: '/v1/documents/d' });
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toMatchObject({ param: 'id', code: 'document_not_found' });
    expect((await h.app.inject({ method: 'GET', url: '/v1/documents/d' })).statusCode).toBe(404);
    expect((await h.app.inject({ method: 'GET', url: '/v1/jobs/nope' })).json().error.code).toBe('job_not_found');
  });

  it('works per collection: the body field or ?collection=, and names an unknown collection', async () => {
    h = harness();
    const inB = await h.app.inject({ method: 'POST', url: '/v1/documents', payload: { text: 'b text', collection: 'b' } });
    expect(inB.json().collection).toBe('b');
    const id = inB.json().document_id;
    expect(h.b.document(id)?.text).toBe('b text');
    expect(h.a.documentCount()).toBe(0);
    expect((await h.app.inject({ method: 'GET', url: `/v1/documents/${id}` })).statusCode).toBe(404);
    expect((await h.app.inject({ method: 'GET', url: `/v1/documents/${id}?collection=b` })).statusCode).toBe(200);
    const viaQuery = await h.app.inject({ method: 'POST', url: '/v1/documents?collection=b', payload: { text: 'more' } });
    expect(viaQuery.json().collection).toBe('b');
    const unknown = await h.app.inject({ method: 'POST', url: '/v1/documents?collection=zz', payload: { text: 'x' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toMatchObject({ param: 'collection', code: 'collection_not_found' });
    expect(unknown.json().error.message).toContain('expected one of a, b');
    const conflict = await h.app.inject({ method: 'POST', url: '/v1/documents?collection=a', payload: { text: 'x', collection: 'b' } });
    expect(conflict.statusCode).toBe(400);
  });

  it('validates the document body', async () => {
    h = harness();
    const cases: Array<[unknown, string]> = [
      [{ title: 't' }, 'text'],
      [{ text: '' }, 'text'],
      [{ text: ' \n\t' }, 'text'],
      [{ text: 'x', metadata: { nested: { a: 1 } } }, 'metadata.nested'],
      [{ text: 'x', tags: ['a'] }, 'tags'],
    ];
    for (const [payload, param] of cases) {
      const res = await h.app.inject({ method: 'POST', url: '/v1/documents', payload: payload as object });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.param).toBe(param);
    }
    const blank = await h.app.inject({ method: 'POST', url: '/v1/documents', payload: { text: '  ' } });
    expect(blank.json().error.message).toBe('text: expected a non-blank string');
    expect(h.a.documentCount()).toBe(0);
  });

  it('lists documents by id with their index and adapter state, a page at a time', async () => {
    h = harness();
    for (const id of ['d3', 'd1', 'd4', 'd2']) h.a.addDocument({ id, text: `text ${id}`, ...(id === 'd1' ? { title: 'One' } : {}) });
    h.a.completeJob('job-2');
    const all = await h.app.inject({ method: 'GET', url: '/v1/documents' });
    expect(all.statusCode).toBe(200);
    expect(all.json()).toMatchObject({ object: 'list', collection: 'a', first_id: 'd1', last_id: 'd4', has_more: false });
    expect(all.json().data).toHaveLength(4);
    expect(all.json().data[0]).toEqual({
      id: 'd1',
      object: 'rg.document',
      collection: 'a',
      title: 'One',
      index_state: 'indexed',
      adapter_state: 'ready',
      job_id: 'job-2',
    });
    expect(all.json().data[1]).toMatchObject({ id: 'd2', title: null, index_state: 'pending', adapter_state: 'pending', job_id: 'job-4' });

    const ids: string[][] = [];
    let url = '/v1/documents?limit=3';
    for (;;) {
      const page = (await h.app.inject({ method: 'GET', url })).json();
      ids.push(page.data.map((d: { id: string }) => d.id));
      if (!page.has_more) break;
      url = `/v1/documents?limit=3&after=${encodeURIComponent(page.last_id)}`;
    }
    expect(ids).toEqual([['d1', 'd2', 'd3'], ['d4']]);
    const past = (await h.app.inject({ method: 'GET', url: '/v1/documents?after=d4' })).json();
    expect(past).toMatchObject({ data: [], first_id: null, last_id: null, has_more: false });
    // Per collection, like the other document routes.
    const inB = (await h.app.inject({ method: 'GET', url: '/v1/documents?collection=b' })).json();
    expect(inB).toMatchObject({ collection: 'b', data: [], has_more: false });
    expect((await h.app.inject({ method: 'GET', url: '/v1/documents?collection=zz' })).json().error.code).toBe('collection_not_found');
  });

  it('validates the list query, naming the parameter', async () => {
    h = harness();
    const cases: Array<[string, string, string]> = [
      ['limit=0', 'limit', 'querystring limit: expected a positive integer'],
      ['limit=-1', 'limit', 'querystring limit: expected a positive integer'],
      ['limit=2.5', 'limit', 'querystring limit: expected a positive integer'],
      ['limit=ten', 'limit', 'querystring limit: expected a positive integer'],
      ['limit=1001', 'limit', 'limit: expected at most 1000, got 1001'],
      ['limit=1&limit=2', 'limit', 'querystring limit: expected string'],
      ['after=', 'after', 'querystring after: must NOT have fewer than 1 characters'],
      ['offset=3', 'offset', 'querystring offset: unknown field'],
    ];
    for (const [query, param, message] of cases) {
      const res = await h.app.inject({ method: 'GET', url: `/v1/documents?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error, query).toMatchObject({ param, message, type: 'invalid_request_error' });
    }
    expect((await h.app.inject({ method: 'GET', url: '/v1/documents?limit=1000' })).statusCode).toBe(200);
  });
});
