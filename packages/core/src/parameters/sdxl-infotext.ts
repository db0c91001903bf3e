import type { ImageParameters, ResolvedParameters } from '../pipeline/generate-options.js';

/** `WxH`, as A1111 writes `Size:`, from diffusers' `[height, width]`. */
function size([height, width]: readonly [number, number]): string {
  return `${width}x${height}`;
}

/** `x,y` (left, top), as the CLI's `--crop-top-left` takes it, from diffusers' `[top, left]`. */
function corner([top, left]: readonly [number, number]): string {
  return `${left},${top}`;
}

/**
 * The infotext keys of an SDXL call (`resolved.sdxl` present), in this order and only when they say
 * something the other keys do not: `Prompt 2` / `Negative prompt 2` (when they differ from the prompts),
 * `Original size`, `Target size` (`WxH`, when not the image's size), `Crop top left` (`x,y`, when not
 * `0,0`), the `Negative …` forms of those three (when given), `Aesthetic score` / `Negative aesthetic
 * score` (a refiner's), `Denoising start` / `Denoising end` (the schedule fractions of a hand-off). A1111
 * writes none of these (its SDXL conditioning is fixed); they are latentkit's, named after the CLI flags,
 * so that a run can be repeated from the PNG.
 */
export function sdxlInfotextExtra(
  resolved: ResolvedParameters,
  image: ImageParameters,
): Record<string, string | number> {
  const sdxl = resolved.sdxl;
  const extra: Record<string, string | number> = {};
  if (!sdxl) return extra;
  if (image.prompt2 !== undefined) extra['Prompt 2'] = image.prompt2;
  if (image.negativePrompt2 !== undefined) extra['Negative prompt 2'] = image.negativePrompt2;
  const imageSize = `${resolved.width}x${resolved.height}`;
  if (size(sdxl.originalSize) !== imageSize) extra['Original size'] = size(sdxl.originalSize);
  if (size(sdxl.targetSize) !== imageSize) extra['Target size'] = size(sdxl.targetSize);
  if (sdxl.cropsCoordsTopLeft[0] !== 0 || sdxl.cropsCoordsTopLeft[1] !== 0) {
    extra['Crop top left'] = corner(sdxl.cropsCoordsTopLeft);
  }
  if (sdxl.negativeOriginalSize) extra['Negative original size'] = size(sdxl.negativeOriginalSize);
  if (sdxl.negativeTargetSize) extra['Negative target size'] = size(sdxl.negativeTargetSize);
  if (sdxl.negativeCropsCoordsTopLeft) {
    extra['Negative crop top left'] = corner(sdxl.negativeCropsCoordsTopLeft);
  }
  if (sdxl.aestheticScore !== undefined) extra['Aesthetic score'] = sdxl.aestheticScore;
  if (sdxl.negativeAestheticScore !== undefined) {
    extra['Negative aesthetic score'] = sdxl.negativeAestheticScore;
  }
  if (sdxl.denoisingStart !== undefined) extra['Denoising start'] = sdxl.denoisingStart;
  if (sdxl.denoisingEnd !== undefined) extra['Denoising end'] = sdxl.denoisingEnd;
  return extra;
}
