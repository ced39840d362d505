import { type Command, createMemoryCommandPath, type EmitCommand } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { createEmitter, type Emitter } from '../../src/index.js';

/** An io-node's inbox on the memory command path, holding one socket in `rooms`; collects what it gets. */
async function ioNode(path: ReturnType<typeof createMemoryCommandPath>, nodeId: string, rooms: string[]) {
  const subscriber = path.subscriber(nodeId);
  const got: Command[] = [];
  subscriber.onCommand((cmd) => {
    got.push(cmd);
  });
  await subscriber.start();
  // The join an app-node would have sent: counts the node in the rooms.
  await path.transport().countJoins(nodeId, rooms);
  return { got, close: () => subscriber.close() };
}

const emitters: Emitter[] = [];
afterEach(async () => {
  await Promise.all(emitters.splice(0).map((e) => e.close()));
});

function emitterOn(path: ReturnType<typeof createMemoryCommandPath>, rooms: string[]) {
  // Never connects: every emit goes through the in-memory path.
  const emitter = createEmitter({
    redis: 'redis://127.0.0.1:1',
    commands: path.transport(),
    history: { rooms },
  });
  emitters.push(emitter);
  return emitter;
}

describe('emitter', () => {
  test('emitter - an emit to a room with history is recorded there and resolves with its position', async () => {
    const path = createMemoryCommandPath();
    const node = await ioNode(path, 'io-1', ['news:1', 'lobby']);
    const emitter = emitterOn(path, ['news:*']);

    const first = await emitter.publish('news:1', 'headline', { n: 1 });
    const second = await emitter.to(['lobby', 'news:1']).emit('headline', { n: 2 });
    const plain = await emitter.publish('lobby', 'hello', 'x');

    expect(first.position).toEqual({ epoch: expect.any(String), offset: 1 });
    expect(second.recorded).toEqual([
      { room: 'news:1', position: { epoch: first.position!.epoch, offset: 2 } },
    ]);
    expect(plain.position).toBeNull();
    const page = await emitter.history('news:1');
    expect(page.messages.map((m) => [m.offset, m.args])).toEqual([
      [1, [{ n: 1 }]],
      [2, [{ n: 2 }]],
    ]);
    await node.close();
  });

  test('emitter - the io-node gets each emit once, the history part carrying its position', async () => {
    const path = createMemoryCommandPath();
    const node = await ioNode(path, 'io-1', ['news:1', 'lobby']);
    const emitter = emitterOn(path, ['news:*']);

    await emitter.to(['lobby', 'news:1']).except('sock-9').emit('headline', 'both');
    await emitter.volatile.to('news:1').emit('typing', 'v');

    await expect.poll(() => node.got.length).toBe(3);
    const emits = node.got as EmitCommand[];
    // The recorded message for news:1 first, then the rest (lobby) leaving news:1's members out.
    expect(emits.map((c) => [c.event, c.rooms, c.except, c.history?.offset, c.volatile])).toEqual([
      ['headline', ['news:1'], ['sock-9'], 1, undefined],
      ['headline', ['lobby'], ['sock-9', 'news:1'], undefined, undefined],
      ['typing', ['news:1'], undefined, undefined, true],
    ]);
    await node.close();
  });

  test('emitter - keepHistory adds rooms, and reserved or empty event names are refused', async () => {
    const path = createMemoryCommandPath();
    const emitter = emitterOn(path, []);
    expect(emitter.keepsHistory('chat:1')).toBe(false);
    emitter.keepHistory('chat:*');
    expect(emitter.keepsHistory('chat:1')).toBe(true);
    expect((await emitter.publish('chat:1', 'm', 1)).position?.offset).toBe(1);
    await expect(emitter.to('chat:1').emit('$presence')).rejects.toThrow(/reserved/);
    await expect(emitter.publish('', 'm', 1)).rejects.toThrow(/room must be a non-empty string/);
  });

  test('emitter - options are checked, naming the option', () => {
    expect(() => createEmitter({ redis: 'redis://x', prefix: 'bad prefix' })).toThrow(
      /EmitterOptions\.prefix/,
    );
    expect(() => createEmitter({ redis: 'redis://x', idempotencyWindowMs: 0 })).toThrow(
      /EmitterOptions\.idempotencyWindowMs/,
    );
  });
});
