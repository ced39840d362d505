/** Whether the frontend has the demo login (it says so at `/auth/config`): then io-nodes want tokens. */
export async function hasLogin(): Promise<boolean> {
  const res = await fetch('/auth/config').catch(() => undefined);
  if (!res?.ok) return false;
  const config = (await res.json().catch(() => ({}))) as { login?: unknown };
  return config.login === true;
}

/**
 * Whether to connect through the frontend's proxy: `?proxy=on|off`, else what the frontend says at
 * `/api/config` (`{ proxy: true }` with FRONTEND_PROXY=on); direct to io-nodes when it cannot be asked.
 */
export async function useProxy(params: URLSearchParams): Promise<boolean> {
  const flag = params.get('proxy');
  if (flag === 'on' || flag === 'off') return flag === 'on';
  const res = await fetch('/api/config').catch(() => undefined);
  if (!res?.ok) return false;
  const config = (await res.json().catch(() => ({}))) as { proxy?: unknown };
  return config.proxy === true;
}
