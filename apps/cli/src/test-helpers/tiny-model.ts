// The CLI's tests take the tiny model from the engine's fixtures, as the examples do.
export { writeTinyModel } from '@rg/engine/testing';
