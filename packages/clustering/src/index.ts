export {
  assignDocuments,
  type ClusterModel,
  clusterMembers,
  type FitOptions,
  fitClusters,
  type Reassignment,
  type Representative,
  type RepresentativePick,
  reassignDocuments,
} from './clusters.js';
export { loadClusters, saveClusters } from './persist.js';
export { type EvaluateKOptions, evaluateK, type KReport, silhouetteScore } from './quality.js';
export { CentroidRouter, clusterAdapterId, type EmbedQueries } from './router.js';
export { type Route, type RouteOptions, routeQuery } from './routing.js';
export { ClusteringInputError, nearestCentroid, type VectorItem, type VectorScan } from './vectors.js';
