/**
 * Secure aggregation (Bonawitz et al. 2017; SecAgg+, Bell et al. 2020): the server learns only
 * the sum of the clients' inputs. Plus the integer encoding of float updates and the
 * distributed discrete Gaussian mechanism (Kairouz, Liu & Steinke 2021) for client-side noise.
 * @module
 */
export {
  bytesToSecret,
  secretToBytes,
  SHAMIR_PRIME,
  SHAMIR_SHARE_BYTES,
  shamirDecodeElement,
  shamirEncodeElement,
  shamirReconstruct,
  shamirReconstructVerified,
  type ShamirShare,
  shamirSplit,
  type ShamirSplitOptions,
} from "./shamir.js";
export {
  addChaChaMask,
  deriveSecAggKey,
  generateSecAggKeyPair,
  secAggPublicKey,
  secAggSharedSecret,
  type SecAggKeyPair,
} from "./primitives.js";
export {
  isSecAggSurvivorSetConnected,
  PublicChaChaRng,
  type SecAggGraphOptions,
  secAggMinimumThreshold,
  secAggNeighbourGraph,
  type SecAggPlusParameterOptions,
  secAggPlusParameters,
  type SecAggPlusParameters,
} from "./graph.js";
export {
  type AdvertiseKeysMessage,
  deserializeSecAggMessage,
  type EncryptedShares,
  type ForwardedSharesMessage,
  type KeyDirectoryMessage,
  type MaskedInputMessage,
  packSecAggVector,
  type RevealedShare,
  type SecAggDirectoryEntry,
  type SecAggMessage,
  secAggMessageBytes,
  type SecAggSessionConfig,
  serializeSecAggMessage,
  type ShareKeysMessage,
  type UnmaskingRequestMessage,
  type UnmaskingResponseMessage,
  unpackSecAggVector,
} from "./messages.js";
export { newSecAggSessionId, type ResolvedSecAggConfig, SECAGG_LABELS, validateSecAggConfig } from "./config.js";
export { SecAggClient, type SecAggClientOptions, type SecAggClientStage } from "./client.js";
export { type SecAggResult, SecAggServer, type SecAggServerOptions, type SecAggServerStage } from "./server.js";
export { SECAGG_DROP_STAGES, type SecAggDropStage, type SecAggSimulation, simulateSecAgg, type SimulateSecAggOptions } from "./simulate.js";
export { decodeSecAggSum, encodeSecAggIntegers, SecAggQuantizer, type SecAggQuantizerOptions } from "./encoding.js";
export {
  ddgClientShare,
  ddgEvent,
  ddgLocalStddevFor,
  ddgModulusCheck,
  type DdgModulusOptions,
  ddgPrivacy,
  ddgRoundedL2Bound,
  type DistributedDiscreteGaussianParameters,
  type DistributedDiscreteGaussianPrivacy,
} from "./ddg.js";
export {
  DistributedDiscreteGaussianAggregator,
  type DistributedDiscreteGaussianAggregatorOptions,
  type SecAggEncoder,
  SecureAggregator,
  type SecureAggregatorOptions,
} from "./aggregator.js";
