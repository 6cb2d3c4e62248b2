import type { DocumentInfo, DocumentSummary, JobStatus } from '@rg/pipeline';
import type { FastifyInstance } from 'fastify';
import { collectionByName } from '../collections.js';
import type { ServedCollections } from '../deps.js';
import { badRequest, HttpError } from '../errors.js';
import type { ServerMetrics } from '../metrics.js';
import {
  collectionQuery,
  DEFAULT_DOCUMENT_PAGE,
  type DocumentBody,
  type DocumentListQuery,
  documentBody,
  documentListQuery,
  idParams,
  MAX_DOCUMENT_PAGE,
} from '../schemas.js';

interface ById {
  Params: { id: string };
  Querystring: { collection?: string };
}

function jobJson(collection: string, job: JobStatus) {
  return {
    id: job.id,
    object: 'rg.job',
    collection,
    kind: job.kind,
    document_id: job.documentId,
    state: job.state,
    step: job.step,
    error: job.error ?? null,
    created_at: job.createdAt,
    updated_at: job.updatedAt,
  };
}

function documentJson(collection: string, doc: DocumentInfo) {
  return {
    id: doc.id,
    object: 'rg.document',
    collection,
    title: doc.title ?? null,
    text: doc.text,
    metadata: doc.metadata,
    has_adapter: doc.hasAdapter,
  };
}

function documentSummaryJson(collection: string, doc: DocumentSummary) {
  return {
    id: doc.id,
    object: 'rg.document',
    collection,
    title: doc.title ?? null,
    index_state: doc.index,
    adapter_state: doc.adapter,
    job_id: doc.jobId ?? null,
  };
}

/**
 * Live documents: an add returns 202 with the job that ingests, indexes, augments and encodes it in the background;
 * the job and the document are read back by id. Every route takes the collection as ?collection= (the body's
 * `collection` for an add), the default collection when absent.
 */
export function documentRoutes(app: FastifyInstance, served: ServedCollections, metrics: ServerMetrics): void {
  app.post<{ Body: DocumentBody; Querystring: { collection?: string } }>(
    '/v1/documents',
    { schema: { body: documentBody, querystring: collectionQuery } },
    async (request, reply) => {
      const { text, title, id, metadata } = request.body;
      const fromBody = request.body.collection;
      const fromQuery = request.query.collection;
      if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
        throw new HttpError(
          400,
          `collection: the body says "${fromBody}" and the query "${fromQuery}"; give one`,
          'collection',
          'invalid_value',
        );
      }
      const { name, collection } = collectionByName(served, fromBody ?? fromQuery, 'collection');
      // A document the collection refuses (e.g. a reserved id) throws a RequestError: the error handler answers 400.
      const { jobId, documentId } = collection.addDocument({ text, title, id, metadata });
      metrics.documentsAdded.inc({ collection: name });
      return reply
        .code(202)
        .header('location', `/v1/jobs/${encodeURIComponent(jobId)}?collection=${encodeURIComponent(name)}`)
        .send({ object: 'rg.job', job_id: jobId, document_id: documentId, collection: name });
    },
  );

  app.get<ById>('/v1/jobs/:id', { schema: { params: idParams, querystring: collectionQuery } }, async (request) => {
    const { name, collection } = collectionByName(served, request.query.collection, 'collection');
    const job = collection.job(request.params.id);
    if (!job) throw new HttpError(404, `id: no job "${request.params.id}" in collection "${name}"`, 'id', 'job_not_found');
    return jobJson(name, job);
  });

  // A page of documents by id (OpenAI's list shape and cursor): `after` the last id of the page before.
  app.get<{ Querystring: DocumentListQuery }>('/v1/documents', { schema: { querystring: documentListQuery } }, async (request) => {
    const { name, collection } = collectionByName(served, request.query.collection, 'collection');
    const limit = request.query.limit === undefined ? DEFAULT_DOCUMENT_PAGE : Number(request.query.limit);
    if (limit > MAX_DOCUMENT_PAGE) throw badRequest('limit', `expected at most ${MAX_DOCUMENT_PAGE}, got ${request.query.limit}`);
    const page = collection.listDocuments({ limit, after: request.query.after });
    return {
      object: 'list',
      collection: name,
      data: page.documents.map((d) => documentSummaryJson(name, d)),
      first_id: page.documents[0]?.id ?? null,
      last_id: page.documents.at(-1)?.id ?? null,
      has_more: page.hasMore,
    };
  });

  app.get<ById>('/v1/documents/:id', { schema: { params: idParams, querystring: collectionQuery } }, async (request) => {
    const { name, collection } = collectionByName(served, request.query.collection, 'collection');
    const doc = collection.document(request.params.id);
    if (!doc) throw new HttpError(404, `id: no document "${request.params.id}" in collection "${name}"`, 'id', 'document_not_found');
    return documentJson(name, doc);
  });

  app.delete<ById>('/v1/documents/:id', { schema: { params: idParams, querystring: collectionQuery } }, async (request) => {
    const { name, collection } = collectionByName(served, request.query.collection, 'collection');
    const removed = await collection.deleteDocument(request.params.id);
    if (!removed) throw new HttpError(404, `id: no document "${request.params.id}" in collection "${name}"`, 'id', 'document_not_found');
    metrics.documentsDeleted.inc({ collection: name });
    return { id: request.params.id, object: 'rg.document', collection: name, deleted: true };
  });
}
