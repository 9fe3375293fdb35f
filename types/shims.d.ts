// Minimal module shims for untyped packages (TS7016 under strict mode).
declare module 'dcmjs' {
  // Each user casts the parts it needs to a local interface (dcmjs ships no types).
  const dcmjs: { data: Record<string, unknown> };
  export default dcmjs;
}
declare module 'xhr2';
