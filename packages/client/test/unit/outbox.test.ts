import { io, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ClientError } from '../../src/errors.js';
import { createPendingAck, Outbox, type Outgoing } from '../../src/outbox.js';
import { Pacer } from '../../src/pacer.js';

/**
 * A real socket.io-client socket that never connects (no `autoConnect`): `emit` is recorded instead of
 * sent, and `connected` is whatever the test says.
 */
interface Wire {
  readonly socket: Socket;
  /** Every emit's arguments, in order, an ack function shown as 'ack'. */
  sent(): unknown[][];
  /** The ack function of emit number `index`. */
  ack(index: number): (result: unknown) => void;
}

const sockets: Socket[] = [];

function wire(): Wire {
  const socket = io('http://127.0.0.1:9', { autoConnect: false });
  sockets.push(socket);
  const calls: unknown[][] = [];
  vi.spyOn(socket, 'emit').mockImplementation((...args: unknown[]) => {
    calls.push(args);
    return socket;
  });
  socket.connected = true;
  return {
    socket,
    sent: () => calls.map((args) => args.map((arg) => (typeof arg === 'function' ? 'ack' : arg))),
    ack(index) {
      const ack = calls[index]?.at(-1);
      if (typeof ack !== 'function') throw new Error(`emit ${index} has no ack`);
      return (result) => ack(result);
    },
  };
}

/** Sequential ids, as the recovery state gives them. */
function ids(): { next(): string } {
  let n = 0;
  return { next: () => `id${n++}` };
}

/** An `emitWithAck`: its outgoing item and what its promise came to, once it settled. */
function withAck(outbox: Outbox, event: string, args: unknown[], timeoutMs = 0) {
  const outcome: { value?: unknown; error?: ClientError } = {};
  const { pending, promise } = createPendingAck(event, timeoutMs, (settled) => outbox.settled(settled));
  promise.then(
    (value) => {
      outcome.value = value;
    },
    (error: ClientError) => {
      outcome.error = error;
    },
  );
  const item: Outgoing = { event, args, pending };
  return { item, outcome, promise };
}

/** Without ids: `a` sent and waiting for its ack, `b` queued (no connection when it was pushed). */
function oneSentOneWaiting() {
  const outbox = new Outbox(10, undefined, new Pacer());
  const inFlight = withAck(outbox, 'a', []);
  outbox.push(wire().socket, inFlight.item);
  const waiting = withAck(outbox, 'b', []);
  outbox.push(undefined, waiting.item);
  return { outbox, inFlight, waiting };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
  for (const socket of sockets.splice(0)) {
    // It never connected: closing it must not try to send a disconnect packet.
    socket.connected = false;
    socket.close();
  }
});

describe('outbox', () => {
  test('outbox - connected and unpaced, emits go out at once, in order, acks and callbacks attached', async () => {
    const outbox = new Outbox(10, undefined, new Pacer());
    const { socket, sent, ack } = wire();
    const callback = vi.fn();
    outbox.push(socket, { event: 'a', args: [1] });
    outbox.push(socket, { event: 'b', args: [2, 'x'], callback });
    const asked = withAck(outbox, 'c', [{ q: 3 }]);
    outbox.push(socket, asked.item);
    expect(sent()).toEqual([
      ['a', 1],
      ['b', 2, 'x', 'ack'],
      ['c', { q: 3 }, 'ack'],
    ]);
    expect(outbox.queued).toBe(0);
    ack(1)('for b');
    ack(2)('for c');
    await expect(asked.promise).resolves.toBe('for c');
    expect(callback.mock.calls).toEqual([['for b']]);
  });

  test('outbox - without a connection emits wait, and a connection sends them in order', () => {
    const outbox = new Outbox(10, undefined, new Pacer());
    for (const event of ['a', 'b', 'c']) outbox.push(undefined, { event, args: [] });
    expect(outbox.queued).toBe(3);
    const { socket, sent } = wire();
    // Something pushed on the new connection while others wait goes after them.
    outbox.push(socket, { event: 'd', args: [] });
    expect(sent()).toEqual([['a'], ['b'], ['c'], ['d']]);
    expect(outbox.queued).toBe(0);
  });

  test('outbox - past maxQueued an emit is refused with QUEUE_FULL and the queue is unchanged', () => {
    const outbox = new Outbox(2, undefined, new Pacer());
    outbox.push(undefined, { event: 'a', args: [] });
    outbox.push(undefined, { event: 'b', args: [] });
    const refusal = (() => {
      try {
        outbox.push(undefined, { event: 'c', args: [] });
      } catch (err) {
        return err;
      }
    })();
    expect(refusal).toBeInstanceOf(ClientError);
    expect(refusal).toMatchObject({
      code: 'QUEUE_FULL',
      message: '2 emits already wait for a connection (maxQueued 2)',
    });
    const { socket, sent } = wire();
    outbox.flush(socket);
    expect(sent()).toEqual([['a'], ['b']]);
  });

  test('outbox - a reconnection sends what waited as fast as the node’s bucket allows, in order', () => {
    const pacer = new Pacer();
    // Burst 2 and 9 per second on the client's side: one token every 112 ms.
    pacer.set({ eventRate: 10, eventBurst: 4 });
    const outbox = new Outbox(10, undefined, pacer);
    for (let i = 0; i < 5; i++) outbox.push(undefined, { event: 'e', args: [i] });
    const { socket, sent } = wire();
    outbox.flush(socket);
    expect(sent()).toEqual([
      ['e', 0],
      ['e', 1],
    ]);
    // Pushed while others wait for tokens: behind them, even though nothing is sent at this instant.
    outbox.push(socket, { event: 'late', args: [] });
    vi.advanceTimersByTime(111);
    expect(sent()).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sent()).toHaveLength(3);
    vi.advanceTimersByTime(3 * 112);
    expect(sent()).toEqual([['e', 0], ['e', 1], ['e', 2], ['e', 3], ['e', 4], ['late']]);
    expect(outbox.queued).toBe(0);
  });

  test('outbox - a drop stops the pacing: nothing is sent on the dead socket', () => {
    const pacer = new Pacer();
    pacer.set({ eventRate: 10, eventBurst: 2 });
    const outbox = new Outbox(10, undefined, pacer);
    for (let i = 0; i < 3; i++) outbox.push(undefined, { event: 'e', args: [i] });
    const first = wire();
    outbox.flush(first.socket);
    expect(first.sent()).toEqual([['e', 0]]);
    first.socket.connected = false;
    outbox.dropped(new ClientError('DISCONNECTED', 'gone'));
    vi.advanceTimersByTime(10_000);
    expect(first.sent()).toHaveLength(1);
    expect(outbox.queued).toBe(2);
    const second = wire();
    outbox.flush(second.socket);
    vi.advanceTimersByTime(112);
    expect(second.sent()).toEqual([
      ['e', 1],
      ['e', 2],
    ]);
  });

  test('outbox - without ids a drop rejects the acks in flight and keeps what waits', async () => {
    const { outbox, inFlight, waiting } = oneSentOneWaiting();
    const error = new ClientError('DISCONNECTED', 'the connection dropped');
    outbox.dropped(error);
    await expect(inFlight.promise).rejects.toBe(error);
    expect(outbox.queued).toBe(1);
    expect(waiting.outcome).toEqual({});
  });

  test('outbox - with ids every event goes out as $e with its id and an ack; a drop sends the unanswered again first, marked resent', async () => {
    const outbox = new Outbox(10, ids(), new Pacer());
    const first = wire();
    const answered = withAck(outbox, 'a', [1]);
    outbox.push(first.socket, answered.item);
    const unanswered = withAck(outbox, 'b', [2]);
    outbox.push(first.socket, unanswered.item);
    const callback = vi.fn();
    outbox.push(first.socket, { event: 'c', args: [3], callback });
    expect(first.sent()).toEqual([
      ['$e', 'id0', false, 'a', 1, 'ack'],
      ['$e', 'id1', false, 'b', 2, 'ack'],
      ['$e', 'id2', false, 'c', 3, 'ack'],
    ]);
    first.ack(0)('done a');
    await expect(answered.promise).resolves.toBe('done a');

    // Queued during the outage: after the ones sent before it.
    outbox.push(undefined, { event: 'd', args: [4] });
    outbox.dropped(new ClientError('DISCONNECTED', 'gone'));
    expect(unanswered.outcome).toEqual({});
    expect(outbox.queued).toBe(3);

    const second = wire();
    outbox.flush(second.socket);
    expect(second.sent()).toEqual([
      ['$e', 'id1', true, 'b', 2, 'ack'],
      ['$e', 'id2', true, 'c', 3, 'ack'],
      ['$e', 'id3', false, 'd', 4, 'ack'],
    ]);
    second.ack(0)('done b');
    second.ack(1)('done c');
    await expect(unanswered.promise).resolves.toBe('done b');
    expect(callback.mock.calls).toEqual([['done c']]);
    // The first connection's late answer changes nothing: each promise settles once.
    first.ack(1)('late b');
    await expect(unanswered.promise).resolves.toBe('done b');
  });

  test('outbox - an ack that timed out while waiting is dropped from the queue and never sent', async () => {
    const outbox = new Outbox(10, undefined, new Pacer());
    const timedOut = withAck(outbox, 'slow', [], 1_000);
    outbox.push(undefined, timedOut.item);
    outbox.push(undefined, { event: 'other', args: [] });
    vi.advanceTimersByTime(1_000);
    await expect(timedOut.promise).rejects.toMatchObject({
      name: 'ClientError',
      code: 'TIMEOUT',
      message: '"slow" got no answer within 1000 ms',
    });
    expect(outbox.queued).toBe(1);
    const { socket, sent } = wire();
    outbox.flush(socket);
    expect(sent()).toEqual([['other']]);
  });

  test('outbox - rejectAll rejects what waits, and what is in flight only when asked to', async () => {
    const { outbox, inFlight, waiting } = oneSentOneWaiting();
    const noNode = new ClientError('UNAVAILABLE', 'no io-node');
    outbox.rejectAll(noNode, false);
    await expect(waiting.promise).rejects.toBe(noNode);
    expect(inFlight.outcome).toEqual({});
    expect(outbox.queued).toBe(0);
    const closed = new ClientError('CLOSED', 'closed');
    outbox.rejectAll(closed, true);
    await expect(inFlight.promise).rejects.toBe(closed);
  });
});

describe('pending ack', () => {
  test('pending ack - settles once: the first of answer, timeout or rejection wins; onSettle runs once', async () => {
    const onSettle = vi.fn();
    const { pending, promise } = createPendingAck('e', 500, onSettle);
    expect(pending.settled).toBe(false);
    pending.resolve('first');
    pending.reject(new ClientError('DISCONNECTED', 'late'));
    vi.advanceTimersByTime(1_000);
    await expect(promise).resolves.toBe('first');
    expect(pending.settled).toBe(true);
    expect(onSettle.mock.calls).toEqual([[pending]]);
  });

  test('pending ack - a timeout of 0 never fires', async () => {
    const { pending, promise } = createPendingAck('e', 0, () => undefined);
    vi.advanceTimersByTime(3_600_000);
    expect(pending.settled).toBe(false);
    pending.resolve(7);
    await expect(promise).resolves.toBe(7);
  });
});
