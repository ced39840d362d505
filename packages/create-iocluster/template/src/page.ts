import { createClient } from '@iocluster/client';
import type { ClientEvents, ServerEvents } from './events.js';

/** The page's client: it asks the frontend for a live io-node and moves to another if that one goes away. */
const client = createClient<ServerEvents, ClientEvents>({ frontendUrl: location.origin });
const log = document.querySelector<HTMLUListElement>('#log')!;
const form = document.querySelector<HTMLFormElement>('#form')!;
const input = document.querySelector<HTMLInputElement>('#text')!;

function show(text: string): void {
  const item = document.createElement('li');
  item.textContent = text;
  log.append(item);
}

client.on('connected', async (nodeId) => {
  show(`connected to ${nodeId}`);
  await client.emitWithAck('join', 'lobby');
});
client.on('chat message', (msg) => show(`${msg.from.slice(0, 6)}: ${msg.text}`));
client.on('joined', ({ id }) => show(`${id.slice(0, 6)} joined`));

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const answer = await client.emitWithAck('chat message', { room: 'lobby', text: input.value });
  if ('error' in answer) show(`not sent: ${answer.error.message}`);
  else input.value = '';
});
