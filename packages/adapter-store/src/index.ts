export {
  encodeSafetensors,
  f16ToF32,
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsError,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type TensorToWrite,
  toFloat32,
} from './safetensors.js';
export { type LoraModule, type LoraWeights, moduleKey } from './lora.js';
