// Worker entry for TypeScript workers: registers tsx in this thread, then loads the real module
// (its URL is the first worker argv). Node 20 workers do not pick up `--import tsx` by themselves.
import { register } from 'tsx/esm/api';

register();
await import(process.argv[2]);
