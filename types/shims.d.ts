// Minimal module shims for untyped packages (TS7016 under strict mode).
declare module 'dcmjs';
declare module 'xhr2';
