import { until } from './poll.js';

/**
 * A member of the load's room: sends through `send` (resolving with the ack) and reports every room
 * message it receives to `onMessage`. Plain socket.io-client sockets and `@iocluster/client` both fit.
 */
export interface LoadMember {
  send(payload: string): Promise<unknown>;
  onMessage(handler: (payload: unknown) => void): void;
}

/** What a load run counted: per message sent, which members got it. */
export interface LoadReport {
  sent: number;
  /** Acks that were `true`. */
  acked: number;
  /** Acks that were anything else (an error object), by JSON text. */
  ackErrors: Record<string, number>;
  /** Deliveries expected: every message to every member. */
  expected: number;
  delivered: number;
  lost: number;
  /**
   * Deliveries missing of messages whose ack was `true`: what the cluster said it took and then lost. A
   * message answered TIMEOUT did not run or was cut off at its deadline, so its deliveries may be missing.
   */
  lostAcknowledged: number;
  duplicated: number;
  /** Messages that some member never got, by the phase they were sent in. */
  lostByPhase: Record<string, number>;
  /** What is missing, as `message id → indexes of the members that never got it` (for diagnosis). */
  missing: Record<string, number[]>;
}

export interface ChatLoad {
  /** Messages sent so far. */
  readonly sent: number;
  /** Where messages sent from now on are counted in `lostByPhase`. */
  phase(name: string): void;
  /** Resolves once `count` more messages were acknowledged (with anything) from now on. */
  acknowledged(count: number): Promise<void>;
  /** Stops sending, waits up to `drainMs` for every ack and again for every delivery, then counts. */
  stop(drainMs: number): Promise<LoadReport>;
}

/**
 * Steady chat load: each sender emits a numbered message into the room every `intervalMs` (without
 * waiting for the previous ack), at most `maxPerSender` each; every member, senders included, should
 * get each message once. Bounded, and paced by a timer rather than by round trips.
 */
export function startChatLoad(
  members: readonly LoadMember[],
  senders: readonly LoadMember[],
  options: { intervalMs: number; maxPerSender: number },
): ChatLoad {
  const received = members.map(() => new Map<string, number>());
  members.forEach((member, i) => {
    member.onMessage((payload) => {
      if (typeof payload !== 'string') return;
      const seen = received[i]!;
      seen.set(payload, (seen.get(payload) ?? 0) + 1);
    });
  });
  const phaseOf = new Map<string, string>();
  let phase = 'before';
  let sent = 0;
  let answered = 0;
  let acked = 0;
  const ackedIds = new Set<string>();
  const ackErrors: Record<string, number> = {};
  const counts = senders.map(() => 0);
  const timers = senders.map((sender, s) =>
    setInterval(() => {
      if (counts[s]! >= options.maxPerSender) return;
      const id = `m${s}-${counts[s]!++}`;
      phaseOf.set(id, phase);
      sent++;
      sender.send(id).then(
        (answer) => {
          answered++;
          if (answer === true) {
            acked++;
            ackedIds.add(id);
          } else ackErrors[JSON.stringify(answer)] = (ackErrors[JSON.stringify(answer)] ?? 0) + 1;
        },
        (err: Error) => {
          answered++;
          ackErrors[err.message] = (ackErrors[err.message] ?? 0) + 1;
        },
      );
    }, options.intervalMs),
  );

  const deliveredAll = () => received.every((seen) => [...phaseOf.keys()].every((id) => seen.has(id)));
  return {
    get sent() {
      return sent;
    },
    phase(name) {
      phase = name;
    },
    async acknowledged(count) {
      const target = answered + count;
      await until(
        async () => answered,
        (n) => n >= target,
        60_000,
      );
    },
    async stop(drainMs) {
      for (const timer of timers) clearInterval(timer);
      // Every ack, within the drain: an event never answered is reported (not waited for forever).
      await until(
        async () => answered,
        (n) => n >= sent,
        drainMs,
      ).catch(() => undefined);
      if (answered < sent) ackErrors['no answer'] = sent - answered;
      await until(async () => deliveredAll(), Boolean, drainMs).catch(() => undefined);
      const lostByPhase: Record<string, number> = {};
      const missingBy: Record<string, number[]> = {};
      let delivered = 0;
      let lostAcknowledged = 0;
      let duplicated = 0;
      for (const [id, when] of phaseOf) {
        const missedBy = received.flatMap((seen, member) => (seen.has(id) ? [] : [member]));
        for (const seen of received) {
          const n = seen.get(id) ?? 0;
          delivered += Math.min(n, 1);
          duplicated += Math.max(0, n - 1);
        }
        if (ackedIds.has(id)) lostAcknowledged += missedBy.length;
        if (missedBy.length > 0) {
          missingBy[String(id)] = missedBy;
          lostByPhase[when] = (lostByPhase[when] ?? 0) + 1;
        }
      }
      const expected = sent * members.length;
      return {
        sent,
        acked,
        ackErrors,
        expected,
        delivered,
        lost: expected - delivered,
        lostAcknowledged,
        duplicated,
        lostByPhase,
        missing: missingBy,
      };
    },
  };
}
