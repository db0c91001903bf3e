/**
 * Static shapes: the graph inputs of the fixtures' exports are read, their free dimensions mapped by position
 * to the requested size and batch, and rewritten to fixed sizes with everything else byte for byte the same.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fixGraphInputDims, readGraphInputs, staticDimensions, staticUnetBatch } from './static-shapes.js';

const file = (path: string) =>
  new Uint8Array(
    readFileSync(fileURLToPath(new URL(`../../../tests/fixtures/models/${path}`, import.meta.url))),
  );

describe('static shapes', () => {
  it('reads the dim_param names of a diffusers export (sd1 fixture UNet)', () => {
    expect(readGraphInputs(file('sd1/unet/model.onnx'), 'unet/model.onnx')).toEqual([
      { name: 'sample', dims: ['batch', 'channels', 'height', 'width'] },
      { name: 'timestep', dims: ['batch'] },
      { name: 'encoder_hidden_states', dims: ['batch', 'sequence', 32] },
    ]);
  });

  it('maps free dimensions by position: UNet batch ×2 with guidance, latent size ÷ 8, 77 tokens', () => {
    const inputs = readGraphInputs(file('sd1/unet/model.onnx'), 'unet/model.onnx');
    const dims = staticDimensions(
      'unet',
      inputs,
      { width: 64, height: 32, batchSize: 1 },
      { unetInChannels: 4 },
    );
    expect(dims?.overrides).toEqual({ batch: 2, channels: 4, height: 4, width: 8, sequence: 77 });
    expect(dims?.inputShapes).toEqual({
      sample: [2, 4, 4, 8],
      timestep: [2],
      encoder_hidden_states: [2, 77, 32],
    });
    // SDXL names (batch_size, sequence_length) and a fixed channel axis; no guidance, 3 images
    const xl = readGraphInputs(file('sdxl-tiny/unet/model.onnx'), 'unet/model.onnx');
    const xlDims = staticDimensions('unet', xl, {
      width: 32,
      height: 32,
      numImagesPerPrompt: 3,
      classifierFreeGuidance: false,
    });
    expect(xlDims?.overrides).toEqual({ batch_size: 3, height: 4, width: 4, sequence_length: 77, steps: 3 });
    expect(xlDims?.inputShapes['time_ids']).toEqual([3, 6]);
    // the timestep is ['steps'] there: fixed to the batch too, as the denoiser feeds it [B]
    expect(xlDims?.inputShapes['timestep']).toEqual([3]);
  });

  it('VAE decoder: images × latent size; the output axes sharing the names are not inputs', () => {
    const inputs = readGraphInputs(file('sd1/vae_decoder/model.onnx'), 'vae_decoder/model.onnx');
    const dims = staticDimensions('vae_decoder', inputs, { width: 64, height: 64, batchSize: 2 });
    expect(dims?.overrides).toEqual({ batch: 2, height: 8, width: 8 });
    expect(dims?.inputShapes).toEqual({});
    expect(staticDimensions('text_encoder', inputs, { width: 64, height: 64 })).toBeUndefined();
  });

  it('LCM UNets (timestep_cond) do not double the batch unless asked', () => {
    expect(staticUnetBatch({ width: 8, height: 8, batchSize: 2 }, true)).toBe(2);
    expect(staticUnetBatch({ width: 8, height: 8, batchSize: 2 }, false)).toBe(4);
    expect(staticUnetBatch({ width: 8, height: 8, classifierFreeGuidance: true }, true)).toBe(2);
  });

  it('rewrites only the input dims: inputs fixed, every other byte kept (the graph and weights)', () => {
    const bytes = file('sd1/unet/model.onnx');
    const fixed = fixGraphInputDims(bytes, 'unet/model.onnx', { batch: 2, height: 4, width: 8 });
    expect(readGraphInputs(fixed, 'unet/model.onnx')).toEqual([
      { name: 'sample', dims: [2, 'channels', 4, 8] },
      { name: 'timestep', dims: [2] },
      { name: 'encoder_hidden_states', dims: [2, 'sequence', 32] },
    ]);
    // each Dimension {dim_param "batch"} (2 + 5 bytes) became {dim_value 2} (2 bytes): 3 batch, 1 height, 1 width
    expect(bytes.length - fixed.length).toBe(3 * 5 + 6 + 5);
    // no overrides: the same bytes
    expect(Buffer.from(fixGraphInputDims(bytes, 'unet/model.onnx', {})).equals(Buffer.from(bytes))).toBe(
      true,
    );
  });
});
