export { baseModelWarning, findNonFinite, findShapeMismatch, type ModelDims, targetDims } from './check.js';
export {
  applyGradient,
  ComposeBuffers,
  type CompositionEntry,
  CompositionError,
  composeCat,
  composeLinear,
  toLoraWeights,
} from './compose.js';
export { ADAPTER_DTYPES, type AdapterDtype, f32ToF16 } from './dtype.js';
export { readFileInto } from './fsutil.js';
export {
  type AdapterKey,
  AdapterKeyError,
  adapterRelPath,
  type BaseWeightKey,
  type DocAdapterKey,
  describeKey,
  escapeSegment,
  isDocKey,
} from './layout.js';
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
  parseModuleKey,
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
export {
  type AdapterLease,
  type AdapterMode,
  type AdapterProblem,
  AdapterStore,
  AdapterStoreError,
  type ExportRecord,
  type FileRecord,
  type ImportOptions,
  type ListFilter,
  type LoadOptions,
  type ManifestEntry,
  type PutOptions,
  RG_ADAPTER_FILE,
  type StoreOptions,
  type VerifyResult,
} from './store.js';
