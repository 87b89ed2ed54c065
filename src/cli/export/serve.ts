// `push-ens export --serve`: serves an export folder on 127.0.0.1 only, for a
// quick look. GET and HEAD of the folder's own regular files, by plain names
// (no subpaths, no symlinks, no listing); anything else is 404 or 405.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { PushInputError } from '../../util/errors';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
};
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export interface Served {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1:`port` (0: a free port). */
export function serveFolder(dir: string, port: number): Promise<Served> {
  const root = fs.realpathSync(dir);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname.slice(1)) || 'index.html';
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = path.join(root, name);
    let fd: number | undefined;
    try {
      if (!PLAIN_NAME.test(name)) throw new Error('not a plain name');
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': TYPES[path.extname(name)] ?? 'application/octet-stream', 'content-length': st.size, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      if (req.method === 'HEAD') {
        fs.closeSync(fd);
        res.end();
        return;
      }
      fs.createReadStream('', { fd }).pipe(res);
    } catch {
      if (fd !== undefined) fs.closeSync(fd);
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new PushInputError(`--port ${port} is in use on 127.0.0.1: pass another --port (0 picks a free one)`) : err);
    });
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address() as { port: number };
      resolve({
        server,
        url: `http://127.0.0.1:${addr.port}/`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections(); // a browser's keep-alive connections would hold close() open
          }),
      });
    });
  });
}
