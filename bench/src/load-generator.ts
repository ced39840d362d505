import { performance } from 'node:perf_hooks';
import { createClient } from '@iocluster/client';
import { io } from 'socket.io-client';
import * as msgpackParser from 'socket.io-msgpack-parser';
import type {
  ClientPlan,
  ConnectResult,
  GeneratorRequest,
  GeneratorResponse,
  StepResult,
} from './generator-protocol.js';
import { LatencyHistogram } from './histogram.js';

/**
 * A load generator process (`fork`ed by the benchmark, driven over IPC): runs socket.io-client
 * connections over WebSocket, sends chat messages on a schedule and accounts for every delivery.
 *
 * Every member of a room is in the same generator, so send and receive times come from one clock.
 */
const GEN_INDEX = Number(process.env.GEN_INDEX ?? 0);
/** The chat text: 100 bytes of ASCII. */
const TEXT = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. '.padEnd(
  100,
  '0123456789',
);
/** Most sends in one timer turn while catching up: deliveries keep being read in between. */
const MAX_SENDS_PER_TURN = 200;
const MID_SPAN = 2 ** 32;

if (Buffer.byteLength(TEXT) !== 100) throw new Error(`TEXT must be 100 bytes, is ${Buffer.byteLength(TEXT)}`);

/** Epoch milliseconds with microsecond resolution; one clock for sentAt and receive times. */
const now = () => performance.timeOrigin + performance.now();

type Answer = { ok?: unknown; error?: { code?: unknown } } | undefined;

/** One connection, over socket.io-client or `@iocluster/client` (`plan.frontendUrl`). */
interface Client {
  plan: ClientPlan;
  /** Emits an event; `ack` gets the answer, or `{ error: { code } }` if the client gave up on it. */
  send(event: string, payload: object, ack: (answer: Answer) => void): void;
  close(): void;
}

interface ChatDelivery {
  room?: unknown;
  sentAt?: unknown;
  mid?: unknown;
}

/** What the `rpc` handler answers: the request's mid, with `ok`. */
interface RpcAnswer {
  ok?: unknown;
  mid?: unknown;
  error?: { code?: unknown };
}

interface ActiveStep {
  /** mid = high * 2^32 + k */
  high: number;
  senders: Client[];
  count: number;
  maxRoom: number;
  seen: Uint8Array;
  result: StepResult;
  latency: LatencyHistogram;
  sendingDone: boolean;
  slowMs: number | undefined;
  /** Acks received, with or without an error. */
  answered: number;
  finish: () => void;
}

let clients: Client[] = [];
let active: ActiveStep | undefined;
/** Connection losses and recoveries of `@iocluster/client` clients since the last step began. */
let reconnects = 0;
let recovered = 0;
/** Deliveries that arrived between steps: added to the next step's `late`. */
let strays = 0;

/** Every expected delivery arrived and every ack came back. */
function complete({ result, answered }: ActiveStep): boolean {
  return result.delivered === result.expected && answered === result.sent;
}

function onDelivery(client: Client, msg: ChatDelivery): void {
  const receivedAt = now();
  const step = active;
  if (!step) {
    strays++;
    return;
  }
  const { result } = step;
  const mid = msg?.mid;
  if (typeof mid !== 'number' || typeof msg.sentAt !== 'number') {
    result.misrouted++;
    return;
  }
  const high = Math.floor(mid / MID_SPAN);
  if (high !== step.high) {
    if (high < step.high) result.late++;
    else result.misrouted++;
    return;
  }
  const k = mid - high * MID_SPAN;
  const sender = step.senders[k % step.senders.length];
  if (k >= step.count || !sender || sender.plan.room !== client.plan.room || msg.room !== client.plan.room) {
    result.misrouted++;
    return;
  }
  const slot = k * step.maxRoom + client.plan.pos;
  if (step.seen[slot]) {
    result.duplicates++;
    return;
  }
  step.seen[slot] = 1;
  result.delivered++;
  step.latency.record((receivedAt - msg.sentAt) * 1000);
  if (step.slowMs !== undefined && receivedAt - msg.sentAt > step.slowMs) result.lastSlowAt = receivedAt;
  result.lastDeliveryAt = receivedAt;
  if (step.sendingDone && complete(step)) step.finish();
}

type Opened = Client & { join(room: string, timeoutMs: number): Promise<unknown> };

/** A socket.io-client connection to one server, without reconnection (the benchmark). */
async function openPlain(plan: ClientPlan, timeoutMs: number): Promise<Opened> {
  const socket = io(plan.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
    ...(plan.parser === 'msgpack' ? { parser: msgpackParser } : {}),
  });
  const client: Opened = {
    plan,
    send: (event, payload, ack) => socket.emit(event, payload, ack),
    close: () => socket.disconnect(),
    join: (room, ms) => socket.timeout(ms).emitWithAck('join', room),
  };
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) => reject(new Error(`connect to ${plan.url}: ${err.message}`)));
    });
  } catch (err) {
    socket.disconnect();
    throw err;
  }
  socket.on('chat message', (msg: ChatDelivery) => onDelivery(client, msg));
  return client;
}

/**
 * An `@iocluster/client` through the frontend: it follows the cluster through failures (another io-node,
 * its session recovered, unanswered events sent again), retrying forever.
 */
async function openIocluster(plan: ClientPlan, timeoutMs: number): Promise<Opened> {
  const client = createClient({
    frontendUrl: plan.frontendUrl!,
    parser: plan.parser,
    retryForever: true,
    backoffMinMs: 100,
    backoffMaxMs: 1_000,
    connectTimeoutMs: 5_000,
    ackTimeoutMs: 120_000,
    maxQueued: 100_000,
    autoConnect: false,
  });
  const opened: Opened = {
    plan,
    send: (event, payload, ack) => {
      client.emitWithAck(event, payload).then(
        (answer) => ack(answer as Answer),
        (err: { code?: unknown }) => ack({ error: { code: err?.code ?? 'CLIENT_ERROR' } }),
      );
    },
    close: () => void client.close(),
    join: (room) => client.emitWithAck('join', room),
  };
  client.on('chat message', (msg: ChatDelivery) => onDelivery(opened, msg));
  client.on('disconnected', () => {
    reconnects++;
  });
  client.on('recovered', (report) => {
    if (report.recovered) recovered++;
  });
  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no io-node through ${plan.frontendUrl}`)), timeoutMs);
    client.on('connected', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  client.connect();
  try {
    await connected;
  } catch (err) {
    await client.close();
    throw err;
  }
  return opened;
}

async function connectAll(
  plans: ClientPlan[],
  concurrency: number,
  timeoutMs: number,
): Promise<ConnectResult> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  let next = 0;
  let joined = 0;
  const connected: Client[] = [];
  async function worker(): Promise<void> {
    while (next < plans.length) {
      const plan = plans[next++]!;
      const left = Math.max(1, deadline - performance.now());
      const client = plan.frontendUrl ? await openIocluster(plan, left) : await openPlain(plan, left);
      connected.push(client);
      if (plan.room !== null) {
        const answer = await client.join(plan.room, Math.max(1, deadline - performance.now()));
        if ((answer as Answer)?.ok !== true) throw new Error(`join ${plan.room}: ${JSON.stringify(answer)}`);
        joined++;
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, plans.length) }, worker));
  } finally {
    clients.push(...connected);
  }
  return { connected: connected.length, joined, ms: Math.round(performance.now() - started) };
}

function runStep(request: Extract<GeneratorRequest, { type: 'step' }>): Promise<StepResult> {
  const senders = clients.filter((c) => c.plan.room !== null);
  const count = senders.length > 0 ? request.count : 0;
  const maxRoom = Math.max(1, ...senders.map((c) => c.plan.roomSize));
  const latency = new LatencyHistogram();
  const sendLag = new LatencyHistogram();
  const result: StepResult = {
    sent: 0,
    acked: 0,
    ackErrors: {},
    expected: 0,
    delivered: 0,
    duplicates: 0,
    late: strays,
    misrouted: 0,
    lastSlowAt: 0,
    reconnects: 0,
    recovered: 0,
    latency: latency.snapshot(),
    sendLag: sendLag.snapshot(),
    firstSendAt: 0,
    lastSendAt: 0,
    lastDeliveryAt: 0,
    eventLoopUtilization: 0,
  };
  strays = 0;
  reconnects = 0;
  recovered = 0;
  const rpc = request.mode === 'rpc';
  if (rpc) result.expected = count;
  else for (let k = 0; k < count; k++) result.expected += senders[k % senders.length]!.plan.roomSize;
  const high = request.tag * 16 + GEN_INDEX;
  const base = high * MID_SPAN;
  const interval = request.durationMs / Math.max(1, count);
  const t0 = request.startAt + request.phase * interval;

  return new Promise((resolve) => {
    let k = 0;
    let drainTimer: NodeJS.Timeout | undefined;
    let elu = performance.eventLoopUtilization();
    let done = false;
    const step: ActiveStep = {
      high,
      senders,
      count,
      maxRoom,
      seen: new Uint8Array(count * maxRoom),
      result,
      latency,
      sendingDone: false,
      slowMs: request.slowMs,
      answered: 0,
      finish() {
        if (done) return;
        done = true;
        clearTimeout(drainTimer);
        active = undefined;
        result.latency = latency.snapshot();
        result.sendLag = sendLag.snapshot();
        result.eventLoopUtilization = performance.eventLoopUtilization(elu).utilization;
        result.reconnects = reconnects;
        result.recovered = recovered;
        resolve(result);
      },
    };
    active = step;

    const ack = (answer: Answer) => {
      if (answer?.ok === true) result.acked++;
      else {
        const code = typeof answer?.error?.code === 'string' ? answer.error.code : 'UNKNOWN';
        result.ackErrors[code] = (result.ackErrors[code] ?? 0) + 1;
      }
      step.answered++;
      if (step.sendingDone && complete(step)) step.finish();
    };

    /** An rpc's answer echoes its mid: that answer is its one delivery. */
    const rpcAnswered = (slot: number, sentAt: number, answer: RpcAnswer | undefined) => {
      const receivedAt = now();
      if (answer?.mid !== base + slot) {
        ack(answer);
        return;
      }
      if (step.seen[slot * step.maxRoom]) result.duplicates++;
      else {
        step.seen[slot * step.maxRoom] = 1;
        result.delivered++;
        latency.record((receivedAt - sentAt) * 1000);
        result.lastDeliveryAt = receivedAt;
      }
      ack(answer);
    };

    const tick = () => {
      const t = now();
      const due = Math.min(count, Math.floor((t - t0) / interval) + 1);
      let budget = MAX_SENDS_PER_TURN;
      while (k < due && budget-- > 0) {
        const sender = senders[k % senders.length]!;
        sendLag.record((t - (t0 + k * interval)) * 1000);
        const sentAt = now();
        if (k === 0) result.firstSendAt = sentAt;
        result.lastSendAt = sentAt;
        if (rpc) {
          const slot = k;
          sender.send('rpc', { sentAt, mid: base + k }, (answer) =>
            rpcAnswered(slot, sentAt, answer as RpcAnswer | undefined),
          );
        } else {
          sender.send('chat message', { room: sender.plan.room, text: TEXT, sentAt, mid: base + k }, ack);
        }
        result.sent++;
        k++;
      }
      if (k >= count) {
        step.sendingDone = true;
        if (complete(step)) step.finish();
        else drainTimer = setTimeout(() => step.finish(), request.drainMs);
        return;
      }
      if (k < due) setImmediate(tick);
      else setTimeout(tick, Math.max(0, t0 + k * interval - now()));
    };
    if (count === 0) {
      step.sendingDone = true;
      step.finish();
      return;
    }
    setTimeout(
      () => {
        elu = performance.eventLoopUtilization();
        tick();
      },
      Math.max(0, t0 - now()),
    );
  });
}

async function disconnectAll(): Promise<void> {
  for (const client of clients) client.close();
  clients = [];
  // Lets the close frames go out before the parent stops the servers.
  await new Promise((resolve) => setTimeout(resolve, 50));
}

async function handle(request: GeneratorRequest): Promise<GeneratorResponse> {
  switch (request.type) {
    case 'connect':
      return {
        type: 'ok',
        id: request.id,
        result: await connectAll(request.clients, request.concurrency, request.timeoutMs),
      };
    case 'step':
      return { type: 'ok', id: request.id, result: await runStep(request) };
    case 'disconnect':
      await disconnectAll();
      return { type: 'ok', id: request.id };
    case 'exit':
      await disconnectAll();
      return { type: 'ok', id: request.id };
  }
}

process.on('message', (request: GeneratorRequest) => {
  handle(request).then(
    (response) => {
      process.send?.(response, undefined, undefined, () => {
        if (request.type === 'exit') process.exit(0);
      });
    },
    (err: unknown) => {
      process.send?.({
        type: 'error',
        id: request.id,
        message: err instanceof Error ? err.message : String(err),
      });
    },
  );
});
// Orphaned (the benchmark died): exit rather than keep thousands of sockets open.
process.on('disconnect', () => process.exit(1));
process.send?.({ type: 'ready', pid: process.pid });
