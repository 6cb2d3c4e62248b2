export {
  assignDocuments,
  type ClusterModel,
  clusterMembers,
  type FitOptions,
  fitClusters,
  type Representative,
  type RepresentativePick,
} from './clusters.js';
export { loadClusters, saveClusters } from './persist.js';
export { type EvaluateKOptions, evaluateK, type KReport, silhouetteScore } from './quality.js';
export { CentroidRouter, clusterAdapterId, type EmbedQueries } from './router.js';
export { type Route, type RouteOptions, routeQuery } from './routing.js';
export { ClusteringInputError, nearestCentroid, type VectorItem, type VectorScan } from './vectors.js';
