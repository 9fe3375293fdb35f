// OHIF check helper (not part of the server): node scripts/ohif/serve.mjs <dist> <port> [<voxelgate-port> <app-config.js>]
// Static OHIF dist with SPA fallback; optionally proxies /dicom to voxelgate (same-origin setup).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
const [root, port, upstream, configFile] = process.argv.slice(2);
const types = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.html': 'text/html',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};
http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (upstream && url.pathname.startsWith('/dicom')) {
      const p = http.request(
        {
          host: '127.0.0.1',
          port: Number(upstream),
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        },
      );
      p.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(p);
      return;
    }
    if (url.pathname === '/app-config.js' && configFile) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(fs.readFileSync(configFile));
      return;
    }
    let f = path.join(root, decodeURIComponent(url.pathname));
    if (!f.startsWith(root) || !fs.existsSync(f) || fs.statSync(f).isDirectory())
      f = path.join(root, 'index.html');
    res.writeHead(200, { 'content-type': types[path.extname(f)] ?? 'application/octet-stream' });
    fs.createReadStream(f).pipe(res);
  })
  .listen(Number(port), '127.0.0.1');
