// The admin view: polls /admin/api/state (see packages/frontend/src/admin-state.ts) and renders it.
const POLL_MS = 1000;

const $ = (selector) => document.querySelector(selector);

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = String(text);
  if (className) td.className = className;
  return td;
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

const rate = (n) => (Math.round(n * 10) / 10).toString();

function fill(tbody, rows, columns, empty) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(empty, 'empty');
    td.colSpan = columns;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const cells of rows) {
    const tr = document.createElement('tr');
    tr.append(...cells);
    tbody.append(tr);
  }
}

function metricsLink(url) {
  const td = document.createElement('td');
  if (!url) {
    td.textContent = '–';
    return td;
  }
  const a = document.createElement('a');
  a.href = url;
  a.textContent = 'metrics';
  a.target = '_blank';
  a.rel = 'noopener';
  td.append(a);
  return td;
}

function render(state) {
  const { now, ioNodes, appNodes, queue, rooms } = state;
  $('#io-count').textContent = String(ioNodes.length);
  $('#connections').textContent = String(ioNodes.reduce((sum, n) => sum + n.connections, 0));
  $('#events-rate').textContent = rate(ioNodes.reduce((sum, n) => sum + n.eventsPerSecond, 0));
  $('#app-count').textContent = String(appNodes.length);
  $('#jobs-rate').textContent = rate(appNodes.reduce((sum, n) => sum + n.jobsPerSecond, 0));

  fill(
    $('#io-nodes tbody'),
    ioNodes.map((n) => [
      cell(n.nodeId),
      cell(n.url),
      cell(n.connections, 'num'),
      cell(rate(n.eventsPerSecond), 'num'),
      cell(n.version),
      cell(duration(now - n.startedAt)),
    ]),
    6,
    'no live io-node',
  );
  // Streams: each consumer of the group is an app-node (its id); BullMQ names no holder.
  const streams = queue?.transport === 'streams';
  const held = new Map((queue?.consumers ?? []).map((c) => [c.consumer, c.pending]));
  fill(
    $('#app-nodes tbody'),
    appNodes.map((n) => [
      cell(n.nodeId),
      cell(n.concurrency, 'num'),
      cell(streams ? (held.get(n.nodeId) ?? 0) : '–', 'num'),
      cell(rate(n.jobsPerSecond), 'num'),
      cell(rate(n.eventsPerSecond), 'num'),
      cell(n.version),
      cell(duration(now - n.startedAt)),
      cell(`${duration(now - n.lastSeen)} ago`),
      metricsLink(n.metricsUrl),
    ]),
    9,
    'no live app-node',
  );
  renderIngress(queue, new Set(appNodes.map((n) => n.nodeId)));
  $('#rooms-off').hidden = rooms !== null;
  $('#rooms').hidden = rooms === null;
  if (rooms) {
    fill(
      $('#rooms tbody'),
      rooms.map((r) => [cell(r.room, 'room'), cell(r.members, 'num'), cell(r.users.join(', '), 'who')]),
      3,
      'no room has members',
    );
  }
  const status = $('#status');
  status.dataset.state = state.errors.length > 0 ? 'error' : 'ok';
  status.textContent =
    state.errors.length > 0 ? state.errors.join('; ') : `updated ${new Date(now).toLocaleTimeString()}`;
  document.body.dataset.updatedAt = String(now);
}

/** Streams: `waiting` is the group's lag, `active` its pending entries; BullMQ: job states. */
const LABELS = {
  streams: { waiting: 'lag', active: 'pending' },
  bullmq: { waiting: 'waiting', active: 'active' },
};

function renderIngress(queue, live) {
  for (const el of document.querySelectorAll('#queue [data-state]')) {
    el.textContent = queue ? String(queue[el.dataset.state]) : '?';
  }
  if (!queue) return;
  $('#transport').textContent = `(${queue.transport})`;
  for (const el of document.querySelectorAll('[data-label]')) {
    el.textContent = LABELS[queue.transport][el.dataset.label];
  }
  fill(
    $('#partitions tbody'),
    queue.partitions.map((p) => [
      cell(p.index, 'num'),
      cell(p.key, 'key'),
      cell(p.length ?? '–', 'num'),
      cell(p.waiting, 'num'),
      cell(p.active, 'num'),
      cell(p.delayed, 'num'),
    ]),
    6,
    'no partition',
  );
  // Entries still held by consumers that are no live app-node: claimed by the others once their lease lapses.
  const gone = queue.consumers.filter((c) => c.pending > 0 && !live.has(c.consumer));
  const departed = $('#departed');
  departed.hidden = gone.length === 0;
  departed.textContent =
    gone.length === 0
      ? ''
      : `held by app-nodes no longer live (claimed after the lease): ${gone.map((c) => `${c.consumer} (${c.pending})`).join(', ')}`;
}

/** A form's fields as the server API method's parameters. */
function paramsOf(form) {
  const fields = Object.fromEntries(new FormData(form));
  switch (form.dataset.method) {
    case 'publish':
      return {
        room: fields.room,
        event: fields.event,
        data: fields.data === '' ? null : JSON.parse(fields.data),
      };
    case 'unsubscribe':
      return { socketId: fields.socketId, rooms: [fields.rooms] };
    case 'disconnect':
      return { [fields.target]: fields.id, ...(fields.reason ? { reason: fields.reason } : {}) };
    default:
      throw new Error(`unknown action ${form.dataset.method}`);
  }
}

/** What an action answered, in words. */
function describe(method, result) {
  if (method === 'publish') {
    return result.position ? `published at ${result.position.epoch}:${result.position.offset}` : 'published';
  }
  const missing = result.missingNodes.length > 0 ? ` (no answer from ${result.missingNodes.join(', ')})` : '';
  return `${method === 'disconnect' ? 'disconnected' : 'removed'} ${result.count} connection(s)${missing}`;
}

async function act(event) {
  event.preventDefault();
  const form = event.target;
  const { method } = form.dataset;
  const out = $('#action-result');
  out.dataset.state = 'running';
  try {
    const res = await fetch(`/admin/api/actions/${method}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(paramsOf(form)),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`${body.error.code}: ${body.error.message}`);
    out.dataset.state = 'ok';
    out.textContent = describe(method, body);
  } catch (err) {
    out.dataset.state = 'error';
    out.textContent = err instanceof Error ? err.message : String(err);
  }
}

for (const form of document.querySelectorAll('#actions form')) form.addEventListener('submit', act);

async function poll() {
  try {
    const res = await fetch('/admin/api/state', { credentials: 'same-origin' });
    if (res.status === 401) {
      location.assign('/admin');
      return;
    }
    if (!res.ok) throw new Error(`state answered ${res.status}`);
    render(await res.json());
  } catch (err) {
    const status = $('#status');
    status.dataset.state = 'error';
    status.textContent = `cannot reach the frontend: ${err instanceof Error ? err.message : String(err)}`;
  }
  setTimeout(poll, POLL_MS);
}

void poll();
