// vtk.js modules that ship no .d.ts (see packages-wave2 §4): typed where they are used, in
// src/imaging/vtk-types.ts (with the reason vtk.js's own .d.ts files are not used there either).
declare module '@kitware/vtk.js/IO/Legacy/LegacyAsciiParser.js' {
  const parser: unknown;
  export default parser;
}
declare module '@kitware/vtk.js/Filters/General/ImageMarchingCubes.js' {
  const m: unknown;
  export default m;
}
declare module '@kitware/vtk.js/Filters/General/WindowedSincPolyDataFilter.js' {
  const m: unknown;
  export default m;
}

// gltf-validator (Khronos) ships no types: the two calls the tests use.
declare module 'gltf-validator' {
  interface Report {
    issues: {
      numErrors: number;
      numWarnings: number;
      messages: Array<{ code: string; message: string; severity: number; pointer?: string }>;
    };
  }
  const validator: {
    validateBytes(data: Uint8Array, options?: Record<string, unknown>): Promise<Report>;
    validateString(json: string, options?: Record<string, unknown>): Promise<Report>;
  };
  export default validator;
}
