/** A RESP2 reply: status and bulk strings, integers, nil (`null`) and arrays of these. */
export type RespValue = string | number | null | readonly RespValue[];

/** An error reply (`-ERR ...`, `-NOGOODSLAVE ...`), anywhere in a reply. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** One parsed reply and the offset just past it in the buffer. */
interface Parsed {
  readonly value: RespValue | RespError;
  readonly end: number;
}

/**
 * Parses the RESP2 reply that starts at `offset` in `buffer`; `undefined` while it is incomplete (more
 * chunks to come). Enough for the admin commands the tooling sends (INFO, ROLE, SENTINEL, CLUSTER).
 */
export function parseReply(buffer: Buffer, offset = 0): Parsed | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const kind = String.fromCharCode(buffer[offset]!);
  const head = buffer.subarray(offset + 1, lineEnd).toString();
  const next = lineEnd + 2;
  switch (kind) {
    case '+':
      return { value: head, end: next };
    case '-':
      return { value: new RespError(head), end: next };
    case ':':
      return { value: Number(head), end: next };
    case '$': {
      const length = Number(head);
      if (length < 0) return { value: null, end: next };
      // The whole bulk string and its CRLF may take several chunks (INFO is a few kB).
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.subarray(next, next + length).toString(), end: next + length + 2 };
    }
    case '*': {
      const count = Number(head);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, end);
        if (item === undefined) return undefined;
        if (item.value instanceof RespError) return { value: item.value, end: item.end };
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      return { value: new RespError(`unexpected reply "${kind}${head}"`), end: next };
  }
}

/** RESP2 encoding of a command (an array of bulk strings). */
export function encodeCommand(args: readonly string[]): string {
  const parts = args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return `*${args.length}\r\n${parts.join('')}`;
}

/** `INFO` text as a map of its `field:value` lines. */
export function parseInfo(text: RespValue): Map<string, string> {
  const fields = new Map<string, string>();
  if (typeof text !== 'string') return fields;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** A flat `[field, value, field, value...]` reply (SENTINEL MASTER) as a map. */
export function pairs(reply: RespValue): Map<string, string> {
  const map = new Map<string, string>();
  if (!Array.isArray(reply)) return map;
  for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), String(reply[i + 1]));
  return map;
}
