import type { Collection } from '@rg/pipeline';
import { MODEL_PREFIX, type ServedCollections } from './deps.js';
import { HttpError } from './errors.js';

export function modelId(collectionName: string): string {
  return `${MODEL_PREFIX}${collectionName}`;
}

/** `model` -> the collection that answers: `rg:<name>`, or the default one for the base model's name or no model. */
export function collectionForModel(served: ServedCollections, model: string | undefined): { name: string; collection: Collection } {
  if (model === undefined || model === '' || model === served.modelName) return byName(served, served.defaultCollection, 'model');
  if (model.startsWith(MODEL_PREFIX)) {
    const name = model.slice(MODEL_PREFIX.length);
    const collection = served.collections.get(name);
    if (collection) return { name, collection };
  }
  const known = [...served.collections.keys()].map(modelId);
  throw new HttpError(
    404,
    `model: "${model}" is not served here; expected one of ${known.join(', ')} (or ${served.modelName} for ${modelId(served.defaultCollection)})`,
    'model',
    'model_not_found',
  );
}

/** The collection a document or job route names (?collection= or a body field), the default one when none. */
export function collectionByName(
  served: ServedCollections,
  name: string | undefined,
  param: string,
): { name: string; collection: Collection } {
  return byName(served, name ?? served.defaultCollection, param);
}

function byName(served: ServedCollections, name: string, param: string): { name: string; collection: Collection } {
  const collection = served.collections.get(name);
  if (!collection) {
    throw new HttpError(
      404,
      `${param}: no collection "${name}" is served here; expected one of ${[...served.collections.keys()].join(', ')}`,
      param,
      'collection_not_found',
    );
  }
  return { name, collection };
}
