/**
 * `dpkit/random`: the only place randomness comes from.
 * @module
 */
export { requireSecureRng, resolveRng, secureRng, SecureRng, seededRng, SeededRng, type Rng } from "./rng.js";
export { uniform01, uniformBigInt, uniformInt } from "./uniform.js";
export { doubleToRational, type Rational } from "./rational.js";
export { bernoulli, bernoulliExp, bernoulliExpRational, bernoulliRational } from "./bernoulli.js";
export { geometric, geometricExp, geometricExpRational } from "./geometric.js";
export { discreteLaplace, discreteLaplaceRational } from "./discrete-laplace.js";
export { discreteGaussian, discreteGaussianRational } from "./discrete-gaussian.js";
export { binomial } from "./binomial.js";
export { fillGaussian, gaussianVector } from "./gaussian.js";
export { partialShuffle, permutation } from "./permutation.js";
export { poissonSampleIndices, uniformSampleIndices, type PoissonSampleOptions, type UniformSampleOptions } from "./subsampling.js";
