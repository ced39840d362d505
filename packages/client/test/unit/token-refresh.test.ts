import type { Socket } from 'socket.io-client';
import { describe, expect, test } from 'vitest';
import { freshToken, TokenRefresher } from '../../src/token-refresh.js';

/** A socket whose `$token:refresh` answers wait until the test gives them. */
function fakeSocket() {
  const answers: ((answer: unknown) => void)[] = [];
  const sent: unknown[] = [];
  const socket = {
    emitWithAck: (_event: string, token: unknown) => {
      sent.push(token);
      return new Promise((resolve) => answers.push(resolve));
    },
  } as unknown as Socket;
  return { socket, answers, sent };
}

describe('token refresh', () => {
  test('token refresh - at most one is in flight: asking again meanwhile joins it; the next one asks anew', async () => {
    let issued = 0;
    const refresher = new TokenRefresher(() => `t${++issued}`);
    const { socket, answers, sent } = fakeSocket();
    const first = refresher.refresh(socket);
    const second = refresher.refresh(socket);
    expect(second).toBe(first);
    await expect.poll(() => answers.length).toBe(1);
    answers[0]!({ ok: true, exp: 1 });
    await Promise.all([first, second]);
    expect(sent).toEqual(['t1']);

    const third = refresher.refresh(socket);
    await expect.poll(() => answers.length).toBe(2);
    answers[1]!({ error: { code: 'UNAUTHORIZED', message: 'invalid token' } });
    await expect(third).rejects.toMatchObject({ code: 'REFUSED', serverCode: 'UNAUTHORIZED' });
    expect(sent).toEqual(['t1', 't2']);
  });

  test('token refresh - after a refusal, only a different token from getToken is worth another handshake', async () => {
    expect(await freshToken(undefined, 'old')).toBeUndefined();
    expect(await freshToken(() => 'old', 'old')).toBeUndefined();
    expect(
      await freshToken(() => {
        throw new Error('signed out');
      }, 'old'),
    ).toBeUndefined();
    expect(await freshToken(async () => 'new', 'old')).toBe('new');
  });
});
