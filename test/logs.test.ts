import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import register from './fixtures/test-app.js';
import { type Cluster, setup } from './support/cluster.js';
import { failedStart, outputLines } from './support/entry-points.js';
import { scrape, value } from './support/metrics.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

/** A logger whose JSON lines land in `lines`, unparsed, as a file would get them. */
function capturedLogger(): { logger: Logger; lines: string[]; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(line);
      done();
    },
  });
  return {
    logger: createLogger({ level: 'info', destination }),
    lines,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('logs', () => {
  test('logs - a refused handshake is one line with its code and client, without a stack', async () => {
    const io = capturedLogger();
    cluster = await setup({
      ioNodes: 1,
      ioNodeOptions: { jwt: { secret: 'test-secret-of-at-least-thirty-two-bytes!' }, logger: io.logger },
    });
    const c = cluster;
    const refused: string[] = [];
    for (const token of ['forged', undefined, 'x.y.z']) {
      const err = await c.connect(0, { auth: token === undefined ? {} : { token } }).then(
        () => new Error('connected'),
        (e: unknown) => e as { data?: { code?: string } },
      );
      refused.push(String((err as { data?: { code?: string } }).data?.code));
    }
    expect(refused).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED']);
    const lines = io.lines.filter((line) => line.includes('"handshake refused"'));
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toMatch(/\\n\s+at /);
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(record).toMatchObject({ level: 30, code: 'UNAUTHORIZED', ioNodeId: c.ioNodes[0]!.nodeId });
      expect(record.clientId).toEqual(expect.any(String));
      expect(record.err).toBeUndefined();
      expect(record.nodeId).toBeUndefined();
    }
  });

  test('logs - a failed handler names the client, its io-node and the app-node apart; an event with no handler is counted and warned of', async () => {
    const app = capturedLogger();
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register,
      appNodeOptions: { logger: app.logger, metricsPort: 0, metricsHost: '127.0.0.1' },
    });
    const c = cluster;
    const ioNodeId = c.ioNodes[0]!.nodeId;
    const appNodeId = c.appNodes[0]!.nodeId;
    const socket = await c.connect(0);
    expect(await socket.emitWithAck('fail')).toMatchObject({ error: { code: 'E_NOPE' } });
    const failed = app.records().filter((record) => record.msg === 'handler failed');
    expect(failed).toEqual([
      expect.objectContaining({ clientId: socket.id, ioNodeId, appNodeId, event: 'fail' }),
    ]);
    expect(failed[0]!.nodeId).toBeUndefined();
    expect(failed[0]!.socketId).toBeUndefined();

    // Three events nobody handles, sent without an ack: counted, and one warning names the event.
    for (let i = 0; i < 3; i++) socket.emit('no such event', i);
    expect(await socket.emitWithAck('echo', 'after')).toEqual(['after']);
    const samples = await until(
      () => scrape(c.appNodes[0]!.metricsUrl),
      (s) => value(s, 'iocluster_app_unhandled_events_total') === 3,
      5_000,
    );
    expect(value(samples, 'iocluster_app_unhandled_events_total')).toBe(3);
    expect(app.records().filter((record) => record.event === 'no such event')).toEqual([
      expect.objectContaining({
        level: 40,
        clientId: socket.id,
        ioNodeId,
        appNodeId,
        acked: false,
        msg: 'no handler for event "no such event": dropped; register one with app.on("no such event", ...)',
      }),
    ]);
  });

  test('logs - LOG_PRETTY=on writes no colour codes when the output is not a terminal', async () => {
    const out = outputLines();
    expect(
      await failedStart('io-node', { env: { IO_NODE_PORT: 'abc', LOG_PRETTY: 'on' }, output: out }),
    ).toBe(1);
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toContain('IO_NODE_PORT must be an integer');
    expect(out.lines[0]).not.toContain('\u001b[');
  });
});
