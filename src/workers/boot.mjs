// Worker bootstrap: registers tsx (the server runs TypeScript sources without a build step) and
// loads the worker module named in workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
