import { InvalidArgumentError } from '@latentkit/core';

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
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : [...value];
  if (list.length === 0 || list.some((p) => p === '')) {
    throw new InvalidArgumentError({
      name,
      value,
      expected: `a non-empty list of ${EXECUTION_PROVIDERS.join(', ')}`,
      fix: 'e.g. "cuda,cpu"',
    });
  }
  for (const provider of list) {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(provider)) {
      throw new InvalidArgumentError({
        name,
        value: provider,
        expected: `one of ${EXECUTION_PROVIDERS.join(', ')}`,
        fix: 'list providers in order of preference, e.g. "cuda,cpu"',
      });
    }
  }
  return list as ExecutionProviderName[];
}
