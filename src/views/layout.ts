/**
 * The layout: Slicer's layout names (`/gui?viewersLayout=`) and the tile grid each one shows in a
 * screenshot. Pure data; no rendering.
 */
import type { SliceViewName } from './views.js';

/** Layout names accepted by Slicer's `/gui?viewersLayout=` (vtkMRMLLayoutNode `SlicerLayout<Name>View`). */
export const LAYOUTS = [
  '3DTable',
  'CompareGrid',
  'Compare',
  'ConventionalPlot',
  'Conventional',
  'ConventionalWidescreen',
  'Custom',
  'Default',
  'DicomBrowser',
  'Dual3D',
  'DualMonitorFourUp',
  'Final',
  'FiveByTwoSlice',
  'FourByThreeSlice',
  'FourByTwoSlice',
  'FourOverFour',
  'FourUpPlotTable',
  'FourUpPlot',
  'FourUpTable',
  'FourUp',
  'Initial',
  'Maximized',
  'OneUp3D',
  'OneUpGreenSlice',
  'OneUpPlot',
  'OneUpRedSlice',
  'OneUpYellowSlice',
  'SideBySide',
  'Tabbed3D',
  'TabbedSlice',
  'ThreeByThreeSlice',
  'ThreeOverThreePlot',
  'ThreeOverThree',
  'Triple3DEndoscopy',
  'TwoOverTwo',
  'User',
] as const;
export type LayoutName = (typeof LAYOUTS)[number];

export function layoutByName(name: string): LayoutName | undefined {
  const lower = name.toLowerCase();
  return LAYOUTS.find((l) => l.toLowerCase() === lower);
}

/** One tile of a layout: a slice view or the 3D view `1`. */
export type LayoutCell = SliceViewName | '1';

/** Rows of cells; each row is one tile high and shares the width equally. */
const LAYOUT_GRID: Partial<Record<LayoutName, LayoutCell[][]>> = {
  FourUp: [
    ['red', '1'],
    ['yellow', 'green'],
  ],
  Conventional: [['1'], ['red', 'yellow', 'green']],
  ConventionalWidescreen: [
    ['1', 'red'],
    ['yellow', 'green'],
  ],
  OneUp3D: [['1']],
  Tabbed3D: [['1']],
  OneUpRedSlice: [['red']],
  TabbedSlice: [['red']],
  OneUpYellowSlice: [['yellow']],
  OneUpGreenSlice: [['green']],
  SideBySide: [['red', 'yellow']],
  Dual3D: [['1', '1']],
  ThreeOverThree: [['red', 'yellow', 'green'], ['1']],
};

/** The tile grid of a layout (layouts without a plot/table-free equivalent use FourUp). */
export const layoutGrid = (l: LayoutName): LayoutCell[][] => LAYOUT_GRID[l] ?? LAYOUT_GRID.FourUp!;
