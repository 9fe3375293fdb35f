// Minimal module shims for untyped packages (TS7016 under strict mode).
declare module 'dcmjs' {
  // Each user casts the parts it needs to a local interface (dcmjs ships no types).
  const dcmjs: { data: Record<string, unknown> };
  export default dcmjs;
}
declare module 'xhr2';
declare module 'color-name' {
  /** CSS/SVG colour keywords → [r, g, b] 0..255. */
  const colors: Record<string, [number, number, number]>;
  export default colors;
}
