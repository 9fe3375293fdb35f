/**
 * The vtk.js objects voxelgate uses, typed in one place: each factory is re-exported here with
 * an interface listing the members we call, and the rest of the code imports vtk.js from here.
 *
 * Why not vtk.js's own .d.ts: the package is `"type": "module"` and its .d.ts files import each
 * other without extensions (`import vtkDataSet from './DataSet'`), which NodeNext resolution does
 * not resolve, so every inherited member (vtkDataSet's getPointData, vtkPointSet's getPoints,
 * vtkAlgorithm's getOutputData...) and every cross-file type (vtkDataArray, vtkCellArray) is
 * lost; ImageMarchingCubes and WindowedSincPolyDataFilter ship no .d.ts at all (types/graphics.d.ts
 * declares them `unknown`). The interfaces below are what the objects do at run time (37.4.3);
 * the one assertion per factory states it (`as unknown as` where the broken declared type does
 * not overlap).
 */
import DataArray from '@kitware/vtk.js/Common/Core/DataArray.js';
import ImageData from '@kitware/vtk.js/Common/DataModel/ImageData.js';
import ImageMarchingCubes from '@kitware/vtk.js/Filters/General/ImageMarchingCubes.js';
import WindowedSincPolyDataFilter from '@kitware/vtk.js/Filters/General/WindowedSincPolyDataFilter.js';
import STLReader from '@kitware/vtk.js/IO/Geometry/STLReader.js';
import PLYReader from '@kitware/vtk.js/IO/Geometry/PLYReader.js';
import OBJReader from '@kitware/vtk.js/IO/Misc/OBJReader.js';
import XMLPolyDataReader from '@kitware/vtk.js/IO/XML/XMLPolyDataReader.js';
import LegacyAsciiParser from '@kitware/vtk.js/IO/Legacy/LegacyAsciiParser.js';

/** A vtk.js class: `newInstance(initialValues)`. */
export interface VtkFactory<Options, Instance> {
  newInstance(options?: Options): Instance;
}

/** vtkDataArray / vtkPoints / vtkCellArray: their values. */
export interface VtkDataArray {
  getData(): ArrayLike<number>;
}

/** vtkPolyData (vtk.js creates empty points and cell arrays with every instance). */
export interface VtkPolyData {
  getPoints(): VtkDataArray;
  getPolys(): VtkDataArray;
  getStrips(): VtkDataArray;
  getPointData(): { getNormals(): VtkDataArray | null };
}

/** vtkImageData: the point data its scalars are set on. */
export interface VtkImageData {
  getPointData(): { setScalars(scalars: VtkDataArray): void };
}

/** A filter with one input and a polydata output (ImageMarchingCubes, WindowedSinc...). */
export interface VtkPolyDataFilter<Input> {
  setInputData(input: Input): void;
  getOutputData(): VtkPolyData;
}

/** A reader parsing from memory; the XML readers answer whether they could parse. */
export interface VtkPolyDataReader {
  parseAsArrayBuffer(content: ArrayBuffer): boolean | undefined;
  parseAsText(content: string): void;
  getOutputData(port?: number): VtkPolyData;
}

export const vtkDataArray = DataArray as unknown as VtkFactory<
  { numberOfComponents?: number; values: ArrayLike<number>; name?: string },
  VtkDataArray
>;

export const vtkImageData = ImageData as unknown as VtkFactory<
  { spacing?: number[]; origin?: number[]; extent?: number[]; direction?: number[] },
  VtkImageData
>;

export const vtkImageMarchingCubes = ImageMarchingCubes as VtkFactory<
  { contourValue?: number; computeNormals?: boolean; mergePoints?: boolean },
  VtkPolyDataFilter<VtkImageData>
>;

export const vtkWindowedSincPolyDataFilter = WindowedSincPolyDataFilter as VtkFactory<
  {
    numberOfIterations?: number;
    passBand?: number;
    boundarySmoothing?: number;
    featureEdgeSmoothing?: number;
    nonManifoldSmoothing?: number;
    normalizeCoordinates?: number;
  },
  VtkPolyDataFilter<VtkPolyData>
>;

export const vtkSTLReader = STLReader as unknown as VtkFactory<never, VtkPolyDataReader>;
export const vtkPLYReader = PLYReader as unknown as VtkFactory<never, VtkPolyDataReader>;
/** `splitMode: null`: one polydata for the whole file (not one per group/object). */
export const vtkOBJReader = OBJReader as unknown as VtkFactory<
  { splitMode?: string | null },
  Omit<VtkPolyDataReader, 'parseAsArrayBuffer'>
>;
export const vtkXMLPolyDataReader = XMLPolyDataReader as unknown as VtkFactory<
  never,
  VtkPolyDataReader
>;

/** The legacy VTK ASCII parser (vtk.js reads no legacy binary files: see mesh-io.ts). */
export const vtkLegacyAsciiParser = LegacyAsciiParser as {
  parseLegacyASCII(text: string): { dataset?: VtkPolyData };
};
