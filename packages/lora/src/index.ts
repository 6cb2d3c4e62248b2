export {
  applyGradient,
  ComposeBuffers,
  type CompositionEntry,
  CompositionError,
  composeCat,
  composeLinear,
  toLoraWeights,
} from './compose.js';
export { ADAPTER_DTYPES, type AdapterDtype, dequantizeInt8, f32ToF16, quantizeInt8 } from './dtype.js';
export { fsyncDir, mkdirDurable, readFileHashed, readFileInto, writeFileDurable, writeFolderDurable } from './fsutil.js';
export { type LoraModule, type LoraWeights, moduleKey } from './lora.js';
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_MODEL_FILE,
  AdapterFormatError,
  adapterBytes,
  decodePeftAdapter,
  encodePeftAdapter,
  type LoraAdapter,
  type LoraAdapterConfig,
  type LoraPair,
  loraScale,
  parseAdapterConfig,
  parseModuleKey,
  peftConfigJson,
  peftTensorName,
  readPeftAdapter,
  roundTripDtype,
  writePeftAdapter,
} from './peft.js';
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
