import { silentLogger } from '@iocluster/shared';
import type { Socket } from 'socket.io';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { JwtVerifier, VerifiedToken } from '../../src/jwt-auth.js';
import { createTokenSessions, noticeLeadMs } from '../../src/token-sessions.js';

describe('token expiry', () => {
  test('token expiry - the notice comes the configured time before exp, or at half the lifetime of a shorter token', () => {
    const now = 1_000_000;
    expect(noticeLeadMs(30_000, now + 3_600_000, now, now)).toBe(30_000);
    expect(noticeLeadMs(30_000, now + 4_000, now, now)).toBe(2_000);
    // Issued a second ago (iat has a resolution of a second): half of the whole lifetime.
    expect(noticeLeadMs(30_000, now + 3_000, now - 1_000, now)).toBe(2_000);
    // No iat: half of what is left. An iat in the future counts as now.
    expect(noticeLeadMs(30_000, now + 4_000, undefined, now)).toBe(2_000);
    expect(noticeLeadMs(30_000, now + 4_000, now + 60_000, now)).toBe(2_000);
    expect(noticeLeadMs(30_000, now - 1, now - 2_000, now)).toBe(999.5);
  });

  describe('sessions', () => {
    beforeEach(() => {
      vi.useFakeTimers({ now: 1_000_000 });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    function fixture() {
      const emitted: [string, { expiresInMs: number }][] = [];
      const expired: Socket[] = [];
      const socket = {
        id: 's1',
        emit: (event: string, payload: { expiresInMs: number }) => emitted.push([event, payload]),
      } as unknown as Socket;
      const token = (lifetimeMs: number): VerifiedToken => {
        const now = Date.now();
        return { claims: { sub: 'ada', iat: now / 1000 }, expiresAt: now + lifetimeMs };
      };
      const queue: VerifiedToken[] = [];
      const verifier: JwtVerifier = { verify: async () => queue.shift()! };
      const sessions = createTokenSessions({
        verifier,
        expiryNoticeMs: 30_000,
        logger: silentLogger(),
        onRefreshed: () => undefined,
        onExpired: (s) => expired.push(s),
      });
      return { emitted, expired, socket, token, queue, sessions };
    }

    test('token expiry - a client refreshing 4 s tokens at each notice is told once per token, every 2 s, and stays', async () => {
      const { emitted, expired, socket, token, queue, sessions } = fixture();
      sessions.track(socket, token(4_000));
      await vi.advanceTimersByTimeAsync(1_999);
      expect(emitted).toEqual([]);
      for (let round = 1; round <= 6; round++) {
        await vi.advanceTimersByTimeAsync(1);
        expect(emitted).toHaveLength(round);
        expect(emitted[round - 1]).toEqual([
          '$token:expiring',
          expect.objectContaining({ expiresInMs: 2_000 }),
        ]);
        queue.push(token(4_000));
        const acks: unknown[] = [];
        sessions.refresh(socket, 'fresh', (answer) => acks.push(answer));
        await vi.advanceTimersByTimeAsync(1_999);
        expect(acks).toEqual([{ ok: true, exp: null }]);
      }
      expect(expired).toEqual([]);
      sessions.close();
    });

    test('token expiry - a refresh with a token expiring no later brings no second notice; exp still disconnects', async () => {
      const { emitted, expired, socket, token, queue, sessions } = fixture();
      const first = token(4_000);
      sessions.track(socket, first);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(emitted).toHaveLength(1);
      queue.push(first);
      sessions.refresh(socket, 'same', undefined);
      await vi.advanceTimersByTimeAsync(1_999);
      expect(emitted).toHaveLength(1);
      expect(expired).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(expired).toEqual([socket]);
    });
  });
});
