// Shared fixtures of the reconciler's tests.
import { FINALIZER, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../../src/resource/names.ts';

/** The managed target Secret harikube/routes, holding no entries yet (as a GET returns it). */
export function emptyTargetSecret() {
  return {
    metadata: {
      name: 'routes',
      namespace: 'harikube',
      resourceVersion: '3',
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      finalizers: [FINALIZER],
    },
    data: {},
  };
}
