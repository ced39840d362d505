import { Writable } from 'node:stream';
import { createLogger, deferred } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { type Cluster, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

/**
 * A logger whose lines land synchronously in `order` (as `log:<msg>:<event>`), beside what the handlers
 * and the client record there: one timeline of the whole process.
 */
function recordingLogger(order: string[], log: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        log.push(entry);
        order.push(`log:${String(entry.msg)}:${String(entry.event)}`);
      }
      done();
    },
  });
  return createLogger({ level: 'warn', name: 'app-node', destination: sink });
}

describe('handler deadline', () => {
  test("deadline - a handler past the io-node's event timeout is answered and fenced before the client's next event runs", async () => {
    const order: string[] = [];
    const log: Record<string, unknown>[] = [];
    const release = deferred();
    const lateDone = deferred();
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      // The app-node's own limit (25 s) is far off: only the deadline each event carries can stop it.
      ioNodeOptions: { eventTimeoutMs: 1_000 },
      appNodeOptions: { logger: recordingLogger(order, log) },
      register: (app) => {
        app.on('join', async (socket, room: string) => {
          await socket.join(room);
          return [...socket.rooms];
        });
        app.on('slow', async (socket) => {
          order.push('slow:start');
          socket.emit('step', 'slow:start');
          await release.promise;
          order.push('slow:late');
          socket.emit('step', 'slow:late');
          app.to('lobby').emit('step', 'slow:late-broadcast');
          await socket.join('late-room');
          lateDone.resolve();
          return 'slow-ok';
        });
        app.on('fast', (socket, n: number) => {
          order.push(`fast:${n}`);
          socket.emit('step', `fast:${n}`);
          return `fast-ok:${n}`;
        });
      },
    });
    const client = await cluster.connect(0);
    await client.emitWithAck('join', 'lobby');
    const seen: string[] = [];
    const slowStarted = deferred();
    client.on('step', (step: string) => {
      seen.push(`step:${step}`);
      if (step === 'slow:start') slowStarted.resolve();
    });
    const slow = client.emitWithAck('slow').then((answer: unknown) => {
      seen.push('ack:slow');
      order.push('client:ack slow');
      return answer;
    });
    // Sent while the slow handler runs, so it waits on the io-node for the slow one's answer.
    await slowStarted.promise;
    const fast = client.emitWithAck('fast', 1).then((answer: unknown) => {
      seen.push('ack:fast');
      return answer;
    });
    expect(await slow).toEqual({
      error: { code: 'TIMEOUT', message: `handler for "slow" did not finish by its io-node's deadline` },
    });
    expect(await fast).toBe('fast-ok:1');
    // The second event's handler started only after the first was answered TIMEOUT (and so fenced).
    const timedOut = order.indexOf('log:handler failed:slow');
    expect(timedOut).toBeGreaterThan(order.indexOf('slow:start'));
    expect(order.indexOf('fast:1')).toBeGreaterThan(timedOut);
    expect(log.find((entry) => entry.msg === 'handler failed')).toMatchObject({
      err: { code: 'TIMEOUT' },
      event: 'slow',
    });

    // Now the late handler goes on: its emit, broadcast and join are dropped, each logged.
    release.resolve();
    await lateDone.promise;
    expect(order.indexOf('slow:late')).toBeGreaterThan(order.indexOf('fast:1'));
    const dropped = log.filter((entry) => entry.msg === 'command of a handler past its time limit dropped');
    expect(dropped.map((entry) => [entry.event, entry.command])).toEqual([
      ['slow', 'emit'],
      ['slow', 'emit'],
      ['slow', 'join'],
    ]);
    // A later round trip through the same app-node's publisher: anything the late handler had published
    // would have reached the client before this answer.
    expect(await client.emitWithAck('fast', 2)).toBe('fast-ok:2');
    expect(await client.emitWithAck('join', 'check')).toEqual(expect.not.arrayContaining(['late-room']));
    expect(seen).toEqual(['step:slow:start', 'ack:slow', 'step:fast:1', 'ack:fast', 'step:fast:2']);
  });

  test('deadline - events that reach an app-node past their deadline are not run; the client goes on', async () => {
    const ran: string[] = [];
    cluster = await setup({
      ioNodes: 1,
      ioNodeOptions: { eventTimeoutMs: 300 },
      register: (app) => {
        app.on('connection', () => void ran.push('connection'));
        app.on('no-client', () => void ran.push('no-client'));
        app.on('record', (_socket, n: number) => {
          ran.push(`record:${n}`);
          return n;
        });
      },
    });
    const client = await cluster.connect(0);
    // No app-node yet: the connect and this event wait in the queue past their deadline.
    expect(await client.emitWithAck('record', 1)).toEqual({
      error: { code: 'TIMEOUT', message: 'no answer within 300 ms' },
    });
    await cluster.startAppNode();
    expect(await client.emitWithAck('record', 2)).toBe(2);
    // The stale connect and event never ran; the app-node met the client first at event 2.
    expect(ran).toEqual(['no-client', 'record:2']);
  });
});
