// vtk.js modules that ship no .d.ts (see packages-wave2 §4): the few members voxelgate uses.
declare module '@kitware/vtk.js/IO/Legacy/LegacyAsciiParser.js' {
  const parser: { parseLegacyASCII(text: string): { dataset: unknown } };
  export default parser;
}
declare module '@kitware/vtk.js/Filters/General/ImageMarchingCubes.js' {
  const m: { newInstance(o?: Record<string, unknown>): any };
  export default m;
}
declare module '@kitware/vtk.js/Filters/General/WindowedSincPolyDataFilter.js' {
  const m: { newInstance(o?: Record<string, unknown>): any };
  export default m;
}
