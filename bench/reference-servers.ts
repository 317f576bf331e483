/** Bare node:http / node:https servers used as references: no routing, auth or storage. */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ReferenceServer {
  port: number;
  close(): Promise<void>;
}

async function listen(server: http.Server | https.Server): Promise<ReferenceServer> {
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers every request with `body` as application/json (the request body is drained). */
function constant(body: string): http.RequestListener {
  const bytes = Buffer.from(body);
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
      res.end(bytes);
    });
  };
}

export const constantJsonServer = (body: string) => listen(http.createServer(constant(body)));

/** The same over TLS with the device listener's settings (asks for a client certificate, accepts any). */
export const constantJsonTlsServer = (body: string, tls: { cert: string; key: string }) =>
  listen(https.createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, constant(body)));

/** Reads the whole body, parses it as JSON (400 when it is not) and answers 204. */
export const parseJson204Server = () =>
  listen(
    http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          JSON.parse(Buffer.concat(chunks).toString('utf8'));
          res.writeHead(204);
        } catch {
          res.writeHead(400);
        }
        res.end();
      });
    }),
  );
