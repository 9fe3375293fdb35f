import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  autoWindowLevel,
  mapWindowLevel,
  windowLevelToGrey,
} from '../../src/imaging/window-level.js';
import { GENERIC_ANATOMY_COLORS, labelColor } from '../../src/imaging/colormap.js';

describe('window/level', () => {
  it('maps exactly: level − w/2 → 0, level → 128, level + w/2 → 255, linear between', () => {
    assert.equal(mapWindowLevel(-200, 400, 0), 0);
    assert.equal(mapWindowLevel(-500, 400, 0), 0);
    assert.equal(mapWindowLevel(0, 400, 0), 128);
    assert.equal(mapWindowLevel(200, 400, 0), 255);
    assert.equal(mapWindowLevel(900, 400, 0), 255);
    assert.equal(mapWindowLevel(100, 400, 0), 191); // 300 · 255/400 = 191.25
    for (let v = -200; v <= 200; v += 7)
      assert.equal(mapWindowLevel(v, 400, 0), Math.round(((v + 200) * 255) / 400));
  });

  it('NaN is outside: grey 0, alpha 0', () => {
    const out = new Uint8Array(2);
    const alpha = new Uint8Array(2);
    windowLevelToGrey(Float32Array.from([NaN, 40]), { window: 80, level: 40 }, out, alpha);
    assert.deepEqual([...out], [0, 128]);
    assert.deepEqual([...alpha], [0, 255]);
  });

  it('auto window spans the 1st–99th percentile', () => {
    const data = new Int16Array(10000).map((_, i) => i % 1000); // uniform 0..999
    const wl = autoWindowLevel(data);
    assert.ok(Math.abs(wl.level - 500) < 15, JSON.stringify(wl));
    assert.ok(Math.abs(wl.window - 980) < 30, JSON.stringify(wl));
  });

  it('label colours: GenericAnatomyColors first entries, 0 transparent, others generated', () => {
    assert.deepEqual(labelColor(0), [0, 0, 0, 0]);
    assert.deepEqual(labelColor(1), [128, 174, 128, 255]);
    assert.deepEqual(labelColor(2), [...GENERIC_ANATOMY_COLORS[2]!.rgb, 255]);
    const a = labelColor(57),
      b = labelColor(58);
    assert.equal(a[3], 255);
    assert.notDeepEqual(a, b);
  });
});
