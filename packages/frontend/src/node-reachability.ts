import { connect, type Socket } from 'node:net';
import type { IoNodeRecord, Logger } from '@iocluster/shared';

/**
 * Which listed io-nodes refuse connections right now. A killed io-node keeps its liveness record until
 * the record expires (the heartbeat TTL, 6 s by default); clients sent to it meanwhile fail to connect.
 * So the frontend holds one idle TCP connection to each listed node: the kernel closes it as soon as the
 * process dies, the frontend connects again at once, and a refusal marks the node unusable until a
 * connection succeeds again (tried every `retryMs`).
 *
 * Only a node the frontend could reach before is ever marked: where frontends cannot reach the io-nodes'
 * public URLs (another network, a proxy that answers for them), nothing is marked and the list is what
 * the records say.
 */
export interface NodeReachability {
  /** Follows the listed nodes: connects to new ones, drops those no longer listed. */
  update(nodes: readonly IoNodeRecord[]): void;
  /** Whether the node refused its last connection after having accepted one. */
  unusable(nodeId: string): boolean;
  /** Closes every connection and timer. Idempotent. */
  close(): void;
}

export interface NodeReachabilityOptions {
  /** How often a refusing node is tried again. @defaultValue 1000 */
  retryMs?: number;
  /** A connection attempt that has not succeeded by then counts as a refusal. @defaultValue 2000 */
  connectTimeoutMs?: number;
  /** Called when a node is first reached, becomes unusable, or usable again (tests). @defaultValue none */
  onChange?: (nodeId: string, usable: boolean) => void;
  logger: Logger;
}

interface Watched {
  readonly nodeId: string;
  readonly host: string;
  readonly port: number;
  socket: Socket | undefined;
  /** Some connection to it succeeded: a refusal now means something changed. */
  reached: boolean;
  /** Connections in a row dropped within `retryMs` of connecting. */
  quickDrops: number;
  unusable: boolean;
  retry: NodeJS.Timeout | undefined;
  gone: boolean;
}

/** Where a node's URL says to connect; undefined for a URL that names no TCP endpoint. */
function endpoint(url: string): { host: string; port: number } | undefined {
  try {
    const parsed = new URL(url);
    const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
    // URL keeps IPv6 hosts in brackets; net.connect wants them bare.
    return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port };
  } catch {
    return undefined;
  }
}

export function createNodeReachability(options: NodeReachabilityOptions): NodeReachability {
  const retryMs = options.retryMs ?? 1_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  const logger = options.logger.child({ component: 'frontend:reachability' });
  const watched = new Map<string, Watched>();
  let closed = false;

  function mark(node: Watched, unusable: boolean): void {
    if (node.unusable === unusable) return;
    node.unusable = unusable;
    if (unusable) logger.warn({ nodeId: node.nodeId }, 'io-node refuses connections; not handed out');
    else logger.info({ nodeId: node.nodeId }, 'io-node takes connections again');
    options.onChange?.(node.nodeId, !unusable);
  }

  function open(node: Watched): void {
    if (node.gone || closed) return;
    let connectedAt = 0;
    const socket = connect({ host: node.host, port: node.port });
    node.socket = socket;
    socket.setTimeout(connectTimeoutMs);
    socket.on('connect', () => {
      connectedAt = Date.now();
      socket.setTimeout(0);
      // An idle connection that nobody writes to; the OS probes it now and then in case the host vanished.
      socket.setKeepAlive(true, 10_000);
      if (!node.reached) {
        node.reached = true;
        logger.debug({ nodeId: node.nodeId }, 'io-node reachable');
        options.onChange?.(node.nodeId, true);
      }
      mark(node, false);
    });
    socket.on('timeout', () => socket.destroy());
    // Refusals and resets are what this module is for: the state says it, not an error log.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      node.socket = undefined;
      if (node.gone || closed) return;
      // Dropped: the process died, or the server closed an idle connection. Connecting again at once tells
      // which; but something that keeps accepting and hanging up at once is tried only every `retryMs`.
      if (connectedAt > 0) {
        node.quickDrops = Date.now() - connectedAt < retryMs ? node.quickDrops + 1 : 0;
        if (node.quickDrops <= 1) {
          open(node);
          return;
        }
      }
      if (connectedAt === 0 && node.reached) mark(node, true);
      node.retry = setTimeout(() => {
        node.retry = undefined;
        open(node);
      }, retryMs);
      node.retry.unref();
    });
  }

  function drop(node: Watched): void {
    node.gone = true;
    clearTimeout(node.retry);
    node.socket?.destroy();
    watched.delete(node.nodeId);
  }

  return {
    update(nodes) {
      if (closed) return;
      const listed = new Set<string>();
      for (const record of nodes) {
        listed.add(record.nodeId);
        const current = watched.get(record.nodeId);
        const at = endpoint(record.url);
        if (current && (current.host !== at?.host || current.port !== at.port)) drop(current);
        if (watched.has(record.nodeId) || !at) continue;
        const node: Watched = {
          nodeId: record.nodeId,
          ...at,
          socket: undefined,
          reached: false,
          quickDrops: 0,
          unusable: false,
          retry: undefined,
          gone: false,
        };
        watched.set(record.nodeId, node);
        open(node);
      }
      for (const node of [...watched.values()]) if (!listed.has(node.nodeId)) drop(node);
    },
    unusable: (nodeId) => watched.get(nodeId)?.unusable === true,
    close() {
      if (closed) return;
      closed = true;
      for (const node of [...watched.values()]) drop(node);
    },
  };
}
