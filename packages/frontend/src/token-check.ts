import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** Checks a secret (the admin token, the API key) without telling an attacker how much of a guess matched. */
export interface TokenCheck {
  matches(given: string | undefined): boolean;
  /** Names the secret in logs without giving it away: the first 8 hex digits of its SHA-256. */
  readonly fingerprint: string;
}

/**
 * Compared through SHA-256 digests with `timingSafeEqual`: equal lengths whatever was sent, and no early
 * exit.
 */
export function createTokenCheck(token: string): TokenCheck {
  const expected = createHash('sha256').update(token).digest();
  return {
    matches: (given) =>
      given !== undefined && timingSafeEqual(expected, createHash('sha256').update(given).digest()),
    fingerprint: expected.toString('hex').slice(0, 8),
  };
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(req: Request): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}
