// node:http, read through require() rather than `import`. An ESM import of a
// built-in module evaluates every one of its exports to build the namespace,
// and node:http's include lazy getters that load Node's bundled undici (the
// fetch and WebSocket implementation): 13 MiB of RSS and 2.3 MiB of heap at
// start that the product never uses (measured on Node 24.21). require() reads
// only the properties that are asked for. Types still come from `import type`.
import { createRequire } from 'node:module';
import type * as Http from 'node:http';

const require = createRequire(import.meta.url);

export const { createServer, STATUS_CODES } = require('node:http') as typeof Http;
