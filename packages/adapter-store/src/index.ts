export { type LoraModule, type LoraWeights, moduleKey } from './lora.js';
export {
  encodeSafetensors,
  f16ToF32,
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsDtype,
  type SafetensorsEntry,
  SafetensorsError,
  type SafetensorsHeader,
  type TensorToWrite,
  toFloat32,
} from './safetensors.js';
