import { createEmitter, type Emitter } from '@iocluster/emitter';
import { createMemoryCommandPath, IoclusterError, silentLogger } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { type ApiActor, ApiError, createApiRunner, toApiError } from '../../src/api-methods.js';

const actor: ApiActor = { kind: 'api-key', id: 'api-key:00000000', address: '127.0.0.1' };
const emitters: Emitter[] = [];
afterEach(async () => {
  await Promise.all(emitters.splice(0).map((e) => e.close()));
});

/** A runner over an emitter on the in-memory command path (it never connects to Redis). */
function runner() {
  const emitter = createEmitter({
    redis: 'redis://127.0.0.1:1',
    commands: createMemoryCommandPath().transport(),
    history: { rooms: ['news:*'] },
  });
  emitters.push(emitter);
  return createApiRunner(() => emitter, silentLogger());
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe('server API methods', () => {
  test('api methods - a publish answers its history position, null off history', async () => {
    const run = runner();
    expect(await run.run('publish', { room: 'news:1', event: 'm', data: 1 }, actor)).toEqual({
      result: { position: { epoch: expect.any(String), offset: 1 } },
      repeated: false,
    });
    expect((await run.run('publish', { room: 'lobby', event: 'm' }, actor)).result).toEqual({
      position: null,
    });
  });

  test('api methods - bad parameters are BAD_REQUEST naming the field; not started is REDIS_UNAVAILABLE', async () => {
    const run = runner();
    const cases: [string, unknown, string][] = [
      ['publish', undefined, 'room: '],
      ['publish', { room: '', event: 'm' }, 'room: '],
      ['publish', { room: 'r', event: '$x' }, 'event: event names starting with "$" are reserved'],
      ['broadcast', { rooms: [], event: 'm' }, 'rooms: '],
      ['disconnect', { user: 'a', socketId: 'b' }, 'body: give either user or socketId'],
      ['disconnect', {}, 'body: give either user or socketId'],
      ['subscribe', { user: 'a' }, 'rooms: '],
      ['history', { room: 'r', epoch: 'e' }, 'epoch and offset go together'],
      ['history', { room: 'r', limit: 5000 }, 'limit: '],
    ];
    for (const [method, params, message] of cases) {
      const err = await refusal(run.run(method as 'publish', params, actor));
      expect([err.status, err.code], `${method} ${JSON.stringify(params)}`).toEqual([400, 'BAD_REQUEST']);
      expect(err.message).toContain(message);
    }
    const idle = createApiRunner(() => undefined, silentLogger());
    expect((await refusal(idle.run('presence', { room: 'r' }, actor))).code).toBe('REDIS_UNAVAILABLE');
  });

  test('api methods - failures map to stable codes', () => {
    expect(toApiError(new IoclusterError('IN_PROGRESS', 'busy'))).toMatchObject({
      status: 409,
      code: 'IN_PROGRESS',
    });
    expect(toApiError(new TypeError('bad'))).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(toApiError(Object.assign(new Error('x'), { type: 'entity.parse.failed' }))).toMatchObject({
      status: 400,
      code: 'BAD_REQUEST',
    });
    expect(toApiError(Object.assign(new Error('x'), { type: 'entity.too.large' }))).toMatchObject({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    });
    expect(
      toApiError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toMatchObject({
      status: 503,
      code: 'REDIS_UNAVAILABLE',
    });
    expect(toApiError(new Error('bug'))).toMatchObject({ status: 500, code: 'INTERNAL' });
  });
});
