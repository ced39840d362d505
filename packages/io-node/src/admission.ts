import { type IoclusterError, refusal } from '@iocluster/shared';
import { TokenBucket } from './token-bucket.js';

/** Limits on connections an io-node accepts. */
export interface AdmissionOptions {
  /** Clients held at once; the next handshake is refused with SERVER_FULL. 0: no limit. */
  maxConnections: number;
  /** New connections per second from one address (burst of the same size); RATE_LIMITED past it. 0: no limit. */
  connectionsPerSecondPerIp: number;
  /** How long a client disconnected for flooding is refused (RATE_LIMITED) when it comes back. 0: not at all. */
  abuseBanMs: number;
}

/**
 * Decides whether a handshake may go on, before any authentication work is done for it. A place is
 * taken by `admit()` and given back by the release function it returns: when the handshake fails later
 * or the client disconnects, so the count is exact even while handshakes are still verifying tokens.
 */
export interface Admission {
  /** Takes a place for a client from `address`, or returns the refusal to send. */
  admit(address: string): { release: () => void } | IoclusterError;
  /** Places taken. */
  readonly taken: number;
  /** Refuses `key` (`ip:<address>` or `sub:<token subject>`) for `abuseBanMs`. */
  ban(key: string): void;
  /** The refusal for a banned key, if it is. */
  banned(key: string): IoclusterError | undefined;
  close(): void;
}

/** Forgets addresses whose bucket is full again, so the table stays bounded by recent addresses. */
const SWEEP_INTERVAL_MS = 10_000;

export function createAdmission(options: AdmissionOptions): Admission {
  let taken = 0;
  const perIp = new Map<string, TokenBucket>();
  const bans = new Map<string, number>();
  const rate = options.connectionsPerSecondPerIp;
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [address, bucket] of perIp) if (bucket.full(now)) perIp.delete(address);
    for (const [key, until] of bans) if (until <= now) bans.delete(key);
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  function banned(key: string): IoclusterError | undefined {
    const until = bans.get(key);
    if (until === undefined || until <= performance.now()) return undefined;
    return refusal('RATE_LIMITED', 'disconnected for flooding; try again later');
  }

  return {
    ban(key) {
      if (options.abuseBanMs > 0) bans.set(key, performance.now() + options.abuseBanMs);
    },
    banned,
    admit(address) {
      const ban = banned(`ip:${address}`);
      if (ban) return ban;
      if (options.maxConnections > 0 && taken >= options.maxConnections) {
        return refusal('SERVER_FULL', `this io-node holds its maximum of ${options.maxConnections} clients`);
      }
      if (rate > 0) {
        let bucket = perIp.get(address);
        if (!bucket) {
          bucket = new TokenBucket(rate, rate);
          perIp.set(address, bucket);
        }
        if (!bucket.take()) {
          return refusal('RATE_LIMITED', `more than ${rate} new connections per second from this address`);
        }
      }
      taken++;
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          taken--;
        },
      };
    },
    get taken() {
      return taken;
    },
    close() {
      clearInterval(sweep);
    },
  };
}
