import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from './errors.js';
import { PLAYGROUND_ROUTES } from './routes/playground.js';

/** Routes answered without a key: load balancers probe /healthz; the playground's page is what asks for the key. */
export const OPEN_ROUTES = new Set(['/healthz', ...PLAYGROUND_ROUTES]);

/**
 * Checks `Authorization: Bearer <key>` in constant time: both sides are hashed first, so the comparison runs on
 * equal-length digests and neither the key's length nor its prefix leaks through timing. The key is never logged.
 */
export function bearerCheck(apiKey: string): (authorization: string | undefined) => void {
  const expected = createHash('sha256').update(apiKey).digest();
  return (authorization) => {
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match) {
      throw new HttpError(401, 'missing API key: send the header "Authorization: Bearer <key>"', null, 'missing_api_key', {
        'www-authenticate': 'Bearer',
      });
    }
    const given = createHash('sha256').update(match[1].trim()).digest();
    if (!timingSafeEqual(given, expected)) {
      throw new HttpError(401, 'invalid API key', null, 'invalid_api_key', { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
  };
}
