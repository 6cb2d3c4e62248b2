export { type Dim, DType, type DTypeName, GraphBuilder, type TensorInit } from './graph/builder.js';
