import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assemble, writeSafetensors } from '../test-support/safetensors-writer.js';
import { parseSafetensors } from './safetensors.js';

const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../../../tests/fixtures/lora/${name}`, import.meta.url)));

describe('parseSafetensors', () => {
  it('reads F32 tensors, their shapes and the metadata', () => {
    const bytes = writeSafetensors(
      { a: { shape: [2, 3], values: [1, -2, 3.5, 0, 1e-8, -65504] }, s: { shape: [], values: [7] } },
      { format: 'pt', ss_network_alpha: '2.0' },
    );
    const file = parseSafetensors(bytes, 'a.safetensors');
    expect([...file.tensors.keys()]).toEqual(['a', 's']);
    expect(file.tensors.get('a')!.shape).toEqual([2, 3]);
    expect([...file.tensors.get('a')!.data]).toEqual([...Float32Array.from([1, -2, 3.5, 0, 1e-8, -65504])]);
    expect(file.tensors.get('s')!.shape).toEqual([]);
    expect([...file.tensors.get('s')!.data]).toEqual([7]);
    expect(file.metadata).toEqual({ format: 'pt', ss_network_alpha: '2.0' });
  });

  it('widens F16, BF16 and F64 to float32', () => {
    // F16 bits: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 65504 = 0x7bff
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff]).buffer);
    // BF16 = the top 16 bits of a float32: 1.0 = 0x3f80, -3.0 = 0xc040
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer);
    const f64 = new Uint8Array(new Float64Array([0.25, -1e10]).buffer);
    const file = parseSafetensors(
      writeSafetensors({
        h: { shape: [4], dtype: 'F16', bytes: f16 },
        b: { shape: [2], dtype: 'BF16', bytes: bf16 },
        d: { shape: [1, 2], dtype: 'F64', bytes: f64 },
      }),
      'mixed.safetensors',
    );
    expect([...file.tensors.get('h')!.data]).toEqual([1, -2, 0.5, 65504]);
    expect([...file.tensors.get('b')!.data]).toEqual([1, -3]);
    expect([...file.tensors.get('d')!.data]).toEqual([0.25, -1e10]);
    expect(file.tensors.get('d')!.shape).toEqual([1, 2]);
  });

  it('has no metadata when the file has none, and reads a file with no tensors', () => {
    const file = parseSafetensors(assemble('{}'), 'empty.safetensors');
    expect(file.tensors.size).toBe(0);
    expect(file.metadata).toEqual({});
  });

  it('reads the same values from a Node Buffer, from a view at an offset, and from a copy', () => {
    // a Buffer from readFileSync shares a pooled ArrayBuffer: the reader must not assume offset 0
    const buffer = fixture('peft.safetensors');
    const inner = new Uint8Array(buffer.length + 3);
    inner.set(buffer, 3);
    const views = [buffer, inner.subarray(3), new Uint8Array(buffer)];
    const [a, b, c] = views.map((v) => parseSafetensors(v, 'peft.safetensors'));
    for (const [name, t] of a!.tensors) {
      expect([...b!.tensors.get(name)!.data]).toEqual([...t.data]);
      expect([...c!.tensors.get(name)!.data]).toEqual([...t.data]);
    }
  });

  it('reads the fixture LoRAs that Python wrote by hand (kohya float16 with metadata, PEFT float32)', () => {
    const kohya = parseSafetensors(fixture('kohya.safetensors'), 'kohya.safetensors');
    expect(kohya.metadata['ss_network_alpha']).toBe('2.0');
    const alpha = kohya.tensors.get('lora_unet_down_blocks_0_resnets_0_conv1.alpha')!;
    expect(alpha.shape).toEqual([]);
    expect([...alpha.data]).toEqual([1]);
    expect(kohya.tensors.get('lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight')!.shape).toEqual([
      2, 8, 3, 3,
    ]);
    const peft = parseSafetensors(fixture('peft.safetensors'), 'peft.safetensors');
    expect(peft.metadata).toEqual({ format: 'pt' });
    const a = peft.tensors.get(
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight',
    )!;
    expect(a.shape).toEqual([2, 8]);
    expect(a.data.every((v) => Number.isFinite(v) && Math.abs(v) < 10)).toBe(true);
  });
});
