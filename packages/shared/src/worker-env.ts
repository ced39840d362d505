import { PORT_PLACEHOLDER } from './config-table.js';

/*
 * What a worker supervisor adds to the environment of each worker it forks, so that every worker is a
 * node of its own. Kept beside config.ts because it writes the variables config.ts reads.
 */

/** `<id>-w<index>`, and `<id>-w<index>-r<n>` after its n-th restart: every incarnation is a new node. */
export function workerNodeId(baseId: string, index: number, incarnation: number): string {
  return incarnation === 0 ? `${baseId}-w${index}` : `${baseId}-w${index}-r${incarnation}`;
}

/**
 * The public URL of every worker: `IO_NODE_PUBLIC_URL` as given when it holds `{port}`, otherwise its
 * scheme, host and path with `{port}` as the port, which the io-node replaces with the port it listens on.
 * Unset stays unset (the io-node then derives `http://127.0.0.1:<port>`).
 */
export function workerPublicUrl(publicUrl: string | undefined): string | undefined {
  if (publicUrl === undefined || publicUrl.includes(PORT_PLACEHOLDER)) return publicUrl;
  const url = new URL(publicUrl);
  const path = url.pathname === '/' && !publicUrl.endsWith('/') ? '' : url.pathname;
  return `${url.protocol}//${url.hostname}:${PORT_PLACEHOLDER}${path}${url.search}`;
}

/**
 * Environment of io-node worker `index`: its own id, its own port (`IO_NODE_PORT + index`, or 0 for a
 * free one when `IO_NODE_PORT` is 0) and a public URL naming that port.
 */
export function ioNodeWorkerEnv(
  ioNode: { readonly nodeId: string; readonly port: number; readonly publicUrl: string | undefined },
  index: number,
  incarnation: number,
): Record<string, string> {
  const publicUrl = workerPublicUrl(ioNode.publicUrl);
  return {
    IO_NODE_ID: workerNodeId(ioNode.nodeId, index, incarnation),
    IO_NODE_PORT: String(ioNode.port === 0 ? 0 : ioNode.port + index),
    ...(publicUrl === undefined ? {} : { IO_NODE_PUBLIC_URL: publicUrl }),
  };
}

/**
 * Environment of app-node worker `index`: its own id and, with `METRICS_PORT` set, its own metrics port
 * (`METRICS_PORT + index`, or 0 for a free one when it is 0), which it registers as its `metricsUrl`.
 */
export function appNodeWorkerEnv(
  appNode: { readonly nodeId: string; readonly metricsPort: number | undefined },
  index: number,
  incarnation: number,
): Record<string, string> {
  const { metricsPort } = appNode;
  return {
    APP_NODE_ID: workerNodeId(appNode.nodeId, index, incarnation),
    ...(metricsPort === undefined
      ? {}
      : { METRICS_PORT: String(metricsPort === 0 ? 0 : metricsPort + index) }),
  };
}
