import { createServer } from 'node:net';

/**
 * A browser stand-in: fetch with manual redirects and a cookie jar (name → value, for the one loopback host of a
 * test; cookies are not separated by port, RFC 6265 §8.5, so the test OP's and Tessera's share it without
 * colliding). Use a new one per login: a surviving OP session would skip the queued login.
 */
export function createUserAgent(maxHops = 12) {
  const jar = new Map<string, string>();
  function store(res: Response): void {
    for (const setCookie of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = setCookie.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = value === '' || attrs.some((a) => /^\s*expires=thu, 01 jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (gone) jar.delete(name);
      else jar.set(name, value);
    }
  }
  const cookieHeader = (): Record<string, string> => (jar.size > 0 ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {});
  return {
    jar,
    /** GET `url`, following redirects; the final response and every URL visited. */
    async navigate(url: string): Promise<{ res: Response; chain: string[] }> {
      const chain: string[] = [];
      let current = url;
      for (let i = 0; i < maxHops; i++) {
        chain.push(current);
        const res = await fetch(current, { redirect: 'manual', headers: cookieHeader() });
        store(res);
        const location = res.headers.get('location');
        if (res.status >= 300 && res.status < 400 && location) {
          await res.arrayBuffer();
          current = new URL(location, current).href;
          continue;
        }
        return { res, chain };
      }
      throw new Error(`too many redirects: ${chain.join(' -> ')}`);
    },
    /** A request with the jar's cookies (e.g. POST /auth/sso/result), storing what it sets. */
    async request(url: string, init: RequestInit = {}): Promise<Response> {
      const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...cookieHeader(), ...(init.headers as Record<string, string> | undefined) } });
      store(res);
      return res;
    },
  };
}

/** A free loopback port: PUBLIC_URL must be known before the app listens (the OP registers its redirect_uri). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
