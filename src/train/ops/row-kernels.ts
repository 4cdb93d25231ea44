/** Which backends lend their row kernels to training (the routing of `RowKernels`, see types.ts). */
import type { Backend } from '../../tensor/backend.js';
import type { RowKernels } from './types.js';

/**
 * `{ rows }` with the backend's row kernels bound, when it has all of the training ones (the native backend);
 * otherwise nothing, so the TypeScript backend trains through the ops' own loops (the twins), as before.
 */
export function rowKernelsOf(be: Backend): { rows?: RowKernels } {
  const { crossEntropy, siluMulBackward, geluTanhBackward, rmsNormTrain, rmsNormBackward, layerNormTrain, layerNormBackward } = be;
  if (!crossEntropy || !siluMulBackward || !geluTanhBackward || !rmsNormTrain || !rmsNormBackward || !layerNormTrain || !layerNormBackward) return {};
  return {
    rows: {
      crossEntropy: crossEntropy.bind(be),
      siluMul: be.siluMul.bind(be),
      siluMulBackward: siluMulBackward.bind(be),
      gelu: be.gelu.bind(be),
      geluTanhBackward: geluTanhBackward.bind(be),
      rmsNormTrain: rmsNormTrain.bind(be),
      rmsNormBackward: rmsNormBackward.bind(be),
      layerNormTrain: layerNormTrain.bind(be),
      layerNormBackward: layerNormBackward.bind(be),
    },
  };
}
