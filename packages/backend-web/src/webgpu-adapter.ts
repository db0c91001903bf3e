/** The few WebGPU types latentkit touches (TypeScript's DOM library does not carry WebGPU's). */
export interface GpuAdapterLike {
  readonly features: { has(name: string): boolean };
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

interface GpuLike {
  requestAdapter(options?: {
    powerPreference?: 'low-power' | 'high-performance';
  }): Promise<GpuAdapterLike | null>;
}

/** What this browser's WebGPU offers, as far as latentkit cares. */
export interface WebGpuSupport {
  /** The adapter, when there is one. */
  readonly adapter: GpuAdapterLike | undefined;
  /** Why WebGPU cannot be used (set exactly when `adapter` is undefined). */
  readonly unavailable: string | undefined;
  /** Whether the adapter supports `shader-f16` (float16 arithmetic in shaders): needed by fp16 models. */
  readonly shaderF16: boolean;
  /** The adapter's vendor and architecture, for messages (e.g. `google swiftshader`). */
  readonly description: string;
}

let probe: Promise<WebGpuSupport> | undefined;

/**
 * Asks the browser for a WebGPU adapter once per page or worker and reports what it supports. The same
 * adapter is then handed to onnxruntime-web, so what was checked is what runs.
 */
export function probeWebGpu(): Promise<WebGpuSupport> {
  probe ??= (async (): Promise<WebGpuSupport> => {
    const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
    if (!gpu) {
      return {
        adapter: undefined,
        unavailable:
          'navigator.gpu is missing: this browser or context has no WebGPU (Chrome/Edge 113+; pages must be https or localhost)',
        shaderF16: false,
        description: 'none',
      };
    }
    let adapter: GpuAdapterLike | null = null;
    let failure = '';
    try {
      adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    } catch (error) {
      failure = `: ${(error as Error)?.message ?? String(error)}`;
    }
    if (!adapter) {
      return {
        adapter: undefined,
        unavailable: `navigator.gpu.requestAdapter() returned no adapter${failure} (WebGPU is disabled or the GPU is blocklisted)`,
        shaderF16: false,
        description: 'none',
      };
    }
    const info = adapter.info;
    const description =
      [info?.vendor, info?.architecture, info?.device].filter((s) => s !== undefined && s !== '').join(' ') ||
      'unknown adapter';
    return { adapter, unavailable: undefined, shaderF16: adapter.features.has('shader-f16'), description };
  })();
  return probe;
}
