import { listSupportedBackends } from 'onnxruntime-node';

/** What this onnxruntime-node install can offer, for messages and `latentkit info`. */
export interface ProviderAvailability {
  /** The provider name as onnxruntime-node lists it (it also lists `tensorrt`). */
  name: string;
  /** True when the provider ships inside the onnxruntime-node package (others need the install-time download). */
  bundled: boolean;
}

/** The execution providers onnxruntime-node was built with here (from `listSupportedBackends()`). */
export function listExecutionProviders(): ProviderAvailability[] {
  return listSupportedBackends().map(({ name, bundled }) => ({ name, bundled }));
}
