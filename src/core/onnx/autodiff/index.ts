export { addGradients, type GradientOptions } from './grad';
export { crossEntropySum, crossEntropyWithGradient, softCrossEntropySum, softCrossEntropyWithGradient } from './loss';
export { BACKWARD, type BackwardArgs, type BackwardRule, FLOAT_TYPES, NO_GRADIENT, sumTo, zeros } from './rules';
