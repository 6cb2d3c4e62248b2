import type { ModelConfig } from '../model/config.js';

/**
 * Rotary inverse frequencies θ^(-2i/d), with Llama 3 rope scaling when configured: long wavelengths
 * are divided by `factor`, short ones kept, the band between interpolated smoothly.
 */
export function ropeInverseFrequencies(config: ModelConfig): Float32Array {
  const half = config.headDim / 2;
  const out = new Float32Array(half);
  const s = config.ropeScaling;
  for (let i = 0; i < half; i++) {
    const base = 1 / config.ropeTheta ** ((2 * i) / config.headDim);
    if (!s) {
      out[i] = base;
      continue;
    }
    const wavelength = (2 * Math.PI) / base;
    const lowFreqWavelength = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    const highFreqWavelength = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    if (wavelength < highFreqWavelength) out[i] = base;
    else if (wavelength > lowFreqWavelength) out[i] = base / s.factor;
    else {
      const smooth = (s.originalMaxPositionEmbeddings / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = (1 - smooth) * (base / s.factor) + smooth * base;
    }
  }
  return out;
}
