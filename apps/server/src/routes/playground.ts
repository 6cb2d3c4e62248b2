import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/**
 * The page's files, read once when the app is built. They sit beside src/ and dist/ (playground/), so the same
 * relative path serves them from the sources in tests and from the build when installed.
 */
const FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/playground.js': { file: 'playground.js', type: 'text/javascript; charset=utf-8' },
  '/playground.css': { file: 'playground.css', type: 'text/css; charset=utf-8' },
} as const;

/** Open without the API key: the page is what asks for it, and it holds nothing but code. */
export const PLAYGROUND_ROUTES = Object.keys(FILES);

/**
 * Only this origin's own files, no inline code, no framing: whatever a document or the model says is rendered as
 * text by the page, and this keeps it so should a bug ever let markup through.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** GET / (the playground page) and its script and style sheet, plain files with no build step. */
export function playgroundRoutes(app: FastifyInstance): void {
  for (const [route, { file, type }] of Object.entries(FILES)) {
    const body = readFileSync(new URL(`../../playground/${file}`, import.meta.url));
    app.get(route, async (_request, reply) =>
      reply
        .header('content-type', type)
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(body),
    );
  }
}
