import dns2 from 'dns2';

/**
 * A local authoritative DNS server for tests (dns2 over UDP on 127.0.0.1, a random port): TXT records by
 * name, NXDOMAIN for any other name. `server` is `127.0.0.1:<port>`, ready for TESSERA_DNS_SERVERS.
 */
export interface TestDnsServer {
  readonly server: string;
  setTxt(name: string, ...values: string[]): void;
  remove(name: string): void;
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const { Packet } = dns2;
  // RFC 1035 §4.1.1 RCODE 3, name error (dns2's types omit its RCODE table).
  const NXDOMAIN = 3;
  const records = new Map<string, string[][]>();
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const [q] = request.questions;
      const txts = q ? records.get(q.name.toLowerCase()) : undefined;
      if (!q || !txts) response.header.rcode = NXDOMAIN;
      else if (q.type === Packet.TYPE.TXT) for (const data of txts) response.answers.push({ name: q.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 60, data } as never);
      void send(response);
    },
  });
  await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const port = server.addresses().udp?.port;
  if (!port) throw new Error('the test DNS server did not bind');
  return {
    server: `127.0.0.1:${port}`,
    setTxt: (name, ...values) => records.set(name.toLowerCase(), values.map((v) => [v])),
    remove: (name) => records.delete(name.toLowerCase()),
    close: () => server.close(),
  };
}
