import { type ClientInfo, createMemoryClientStates } from '@iocluster/shared';
import { describe, expect, test } from 'vitest';
import { ClientCache } from '../../src/client-cache.js';

const info = (id: string, v: number, data: Record<string, unknown> = {}): ClientInfo => ({
  id,
  v,
  nodeId: 'io-1',
  data,
  rooms: [],
  handshake: { address: '127.0.0.1', time: 0, query: {}, auth: {} },
  user: null,
});
const batch = (client: ClientInfo | { id: string; v: number }) => ({ client, events: [] });
const store = () => createMemoryClientStates();
const put = (states: ReturnType<typeof store>, ...infos: ClientInfo[]) =>
  states.write(
    infos.map((i) => ({ id: i.id, json: JSON.stringify(i) })),
    60_000,
  );

describe('client cache', () => {
  test('client cache - an inline state is kept; an older cached version than the batch names is read again', async () => {
    const states = store();
    const sources: string[] = [];
    const cache = new ClientCache(states, 10, (source) => sources.push(source));
    expect((await cache.resolve([batch(info('a', 1, { n: 1 }))]))[0]?.data).toEqual({ n: 1 });
    expect((await cache.resolve([batch({ id: 'a', v: 1 })]))[0]?.data).toEqual({ n: 1 });
    expect(states.reads).toBe(0);
    await put(states, info('a', 2, { n: 2 }));
    const [read] = await cache.resolve([batch({ id: 'a', v: 2 })]);
    expect(read).toMatchObject({ v: 2, data: { n: 2 } });
    expect(states.reads).toBe(1);
    // A newer version held serves a batch naming an older one (sent before the change, run after it).
    expect((await cache.resolve([batch({ id: 'a', v: 1 })]))[0]?.v).toBe(2);
    expect(states.reads).toBe(1);
    expect(await cache.resolve([batch({ id: 'a', v: 3 })])).toEqual([null]);
    expect(sources).toEqual(['job', 'cache', 'redis', 'cache', 'missing']);
  });

  test('client cache - only the least recently used go past the capacity; a forgotten client is read again', async () => {
    const states = store();
    await put(states, info('a', 1), info('b', 1), info('c', 1));
    const cache = new ClientCache(states, 2);
    await cache.resolve([batch({ id: 'a', v: 1 }), batch({ id: 'b', v: 1 })]);
    expect(states.reads).toBe(2);
    await cache.resolve([batch({ id: 'a', v: 1 })]);
    await cache.resolve([batch({ id: 'c', v: 1 })]);
    expect(cache.size).toBe(2);
    // b was the least recently used.
    await cache.resolve([batch({ id: 'a', v: 1 }), batch({ id: 'c', v: 1 })]);
    expect(states.reads).toBe(3);
    await cache.resolve([batch({ id: 'b', v: 1 })]);
    expect(states.reads).toBe(4);
    cache.forget('b');
    await cache.resolve([batch({ id: 'b', v: 1 })]);
    expect(states.reads).toBe(5);
  });

  test('client cache - a version the store does not have, or no longer has, resolves to null', async () => {
    const states = store();
    await put(states, info('a', 1));
    const cache = new ClientCache(states, 10);
    expect(await cache.resolve([batch({ id: 'a', v: 2 }), batch({ id: 'z', v: 1 })])).toEqual([null, null]);
    // Inline states of io-nodes without versions are served and not kept.
    const old = info('o', 1);
    delete old.v;
    expect(await cache.resolve([batch(old)])).toEqual([old]);
    expect(cache.size).toBe(0);
  });
});
