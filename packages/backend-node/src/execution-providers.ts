import { checkProviderList } from '@latentkit/onnx';

/**
 * The execution providers latentkit asks onnxruntime-node for, by onnxruntime's names: `cuda` (NVIDIA;
 * its libraries are a separate download at install), `dml` (DirectML, Windows), `coreml` (macOS),
 * `webgpu` (Dawn: Vulkan / Metal / D3D12), and `cpu` (always there).
 */
export const EXECUTION_PROVIDERS = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;

/** One of {@link EXECUTION_PROVIDERS}. */
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

/** Checks a list of provider names (from options or a `--provider cuda,cpu` flag); returns it typed. */
export function parseExecutionProviders(
  value: string | readonly string[],
  name = 'providers',
): ExecutionProviderName[] {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  return checkProviderList(list, EXECUTION_PROVIDERS, name, '"cuda,cpu"', value);
}
