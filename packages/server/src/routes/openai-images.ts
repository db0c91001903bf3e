import type { MultipartFile } from '@fastify/multipart';
import { InvalidArgumentError } from '@latentkit/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationRequest, GenerationResult } from '../generation-request.js';
import { decodeImageField, hasTransparency, imageAtSize, maskFromTransparency } from '../init-image.js';
import { checkBodyKeys, consecutiveSeeds, parseSize, resolveSeed } from '../request-checks.js';
import type { ServerContext } from '../server-context.js';

/** OpenAI's own fields (those that change nothing here are accepted and ignored: docs/serving.md). */
const OPENAI_FIELDS = [
  'prompt',
  'n',
  'size',
  'response_format',
  'model',
  'quality',
  'style',
  'user',
  'background',
  'moderation',
  'output_format',
  'output_compression',
] as const;
/** latentkit's extra body fields (the OpenAI client sends them with `extra_body` / as extra keys). */
const EXTRA_FIELDS = [
  'negative_prompt',
  'seed',
  'steps',
  'guidance_scale',
  'scheduler',
  'clip_skip',
] as const;
const EDIT_FIELDS = [...OPENAI_FIELDS, ...EXTRA_FIELDS, 'strength', 'image', 'image[]', 'mask'] as const;

/** A body of `POST /v1/images/generations` (after schema validation). */
interface GenerationsBody {
  prompt: string;
  n?: number;
  size?: string;
  response_format?: 'b64_json' | 'url';
  model?: string;
  output_format?: string;
  negative_prompt?: string;
  seed?: number;
  steps?: number;
  guidance_scale?: number;
  scheduler?: string;
  clip_skip?: number;
  strength?: number;
}

const generationsSchema = {
  type: 'object',
  required: ['prompt'],
  properties: {
    prompt: { type: 'string', minLength: 1 },
    n: { type: 'integer', minimum: 1 },
    size: { type: 'string' },
    response_format: { type: 'string' },
    model: { type: 'string' },
    quality: { type: 'string' },
    style: { type: 'string' },
    user: { type: 'string' },
    background: { type: 'string' },
    moderation: { type: 'string' },
    output_format: { type: 'string' },
    output_compression: { type: 'integer' },
    negative_prompt: { type: 'string' },
    seed: { type: 'integer', minimum: -1 },
    steps: { type: 'integer', minimum: 1 },
    guidance_scale: { type: 'number', minimum: 0 },
    scheduler: { type: 'string', minLength: 1 },
    clip_skip: { type: 'integer', minimum: 1 },
  },
} as const;

function checkFormat(body: GenerationsBody): void {
  if (body.response_format !== undefined && body.response_format !== 'b64_json') {
    throw new InvalidArgumentError({
      name: 'response_format',
      value: body.response_format,
      expected: '"b64_json" (this server keeps no image files to link to)',
      fix: 'send "response_format": "b64_json", or leave it out',
    });
  }
  if (body.output_format !== undefined && body.output_format !== 'png') {
    throw new InvalidArgumentError({
      name: 'output_format',
      value: body.output_format,
      expected: '"png"',
      fix: 'leave "output_format" out: images are PNG',
    });
  }
}

/** The request every OpenAI body turns into (the edits route adds the image). */
function jobFrom(
  ctx: ServerContext,
  body: GenerationsBody,
  native: { width: number; height: number },
): GenerationRequest {
  checkFormat(body);
  const { width, height } = parseSize(body.size, native);
  const n = body.n ?? 1;
  const job: GenerationRequest = {
    model: body.model ?? ctx.modelName,
    prompt: body.prompt,
    negativePrompt: body.negative_prompt ?? '',
    width,
    height,
    steps: body.steps ?? ctx.defaults.steps,
    guidanceScale: body.guidance_scale ?? ctx.defaults.guidanceScale,
    seeds: consecutiveSeeds(resolveSeed(body.seed), n),
    batchSize: n,
  };
  if (body.scheduler !== undefined) job.sampler = body.scheduler;
  if (body.clip_skip !== undefined) job.clipSkip = body.clip_skip;
  return job;
}

/** OpenAI's images response, with latentkit's seeds and infotexts beside `data`. */
function imagesResponse(result: GenerationResult) {
  return {
    created: Math.floor(Date.now() / 1000),
    data: result.images.map((b64_json) => ({ b64_json })),
    output_format: 'png',
    latentkit: {
      seeds: result.seeds,
      infotexts: result.infotexts,
      sampler: result.sampler,
      seconds: result.seconds,
    },
  };
}

/** Multipart fields of an edit: text fields as strings, the image and mask as bytes. */
async function readEditForm(
  request: FastifyRequest,
): Promise<{ fields: Record<string, string>; files: Record<string, Uint8Array> }> {
  if (!request.isMultipart()) {
    throw new InvalidArgumentError({
      name: 'Content-Type',
      value: request.headers['content-type'],
      expected: 'multipart/form-data with the image file',
      fix: 'send the form as OpenAI does: image=@source.png, prompt=…, optional mask=@mask.png',
    });
  }
  const fields: Record<string, string> = {};
  const files: Record<string, Uint8Array> = {};
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const name = part.fieldname === 'image[]' ? 'image' : part.fieldname;
      if (name in files) {
        throw new InvalidArgumentError({
          name,
          expected: 'one file (this server edits one image per request)',
          fix: 'send one image, and at most one mask',
        });
      }
      files[name] = await (part as MultipartFile).toBuffer();
    } else {
      fields[part.fieldname] = String(part.value);
    }
  }
  return { fields, files };
}

function numberField(fields: Record<string, string>, name: string, integer: boolean): number | undefined {
  const text = fields[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new InvalidArgumentError({
      name,
      value: text,
      expected: integer ? 'a whole number' : 'a number',
      fix: `send e.g. ${name}=${integer ? 2 : 0.75}`,
    });
  }
  return value;
}

/**
 * The OpenAI Images API: `POST /v1/images/generations`, `POST /v1/images/edits` (multipart image and
 * optional mask: img2img, or inpainting where the mask is transparent) and `GET /v1/models`.
 */
export function openaiImageRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const native = { width: ctx.defaults.width, height: ctx.defaults.height };

  app.get('/v1/models', async () => {
    return {
      object: 'list',
      data: [{ id: ctx.modelName, object: 'model', created: 0, owned_by: 'latentkit' }],
    };
  });

  app.post(
    '/v1/images/generations',
    { schema: { body: generationsSchema } },
    async (request, reply: FastifyReply) => {
      const body = request.body as GenerationsBody;
      checkBodyKeys('an OpenAI images.generate request', body, [...OPENAI_FIELDS, ...EXTRA_FIELDS]);
      const result = await ctx.generate('openai', request, reply, jobFrom(ctx, body, native));
      return imagesResponse(result);
    },
  );

  app.post('/v1/images/edits', async (request, reply) => {
    const { fields, files } = await readEditForm(request);
    checkBodyKeys('an OpenAI images.edit request', { ...fields, ...files }, EDIT_FIELDS);
    if (!files.image) {
      throw new InvalidArgumentError({
        name: 'image',
        expected: 'the image to edit, a PNG file part',
        fix: 'send image=@source.png in the multipart form',
      });
    }
    const body: GenerationsBody = { prompt: fields.prompt ?? '' };
    if (body.prompt === '') {
      throw new InvalidArgumentError({
        name: 'prompt',
        value: '',
        expected: 'a non-empty prompt',
        fix: 'send prompt=…',
      });
    }
    for (const key of [
      'size',
      'response_format',
      'model',
      'output_format',
      'negative_prompt',
      'scheduler',
    ] as const) {
      if (fields[key] !== undefined) (body as unknown as Record<string, string>)[key] = fields[key]!;
    }
    for (const key of ['n', 'seed', 'steps', 'clip_skip'] as const) {
      const value = numberField(fields, key, true);
      if (value !== undefined) body[key] = value;
    }
    for (const key of ['guidance_scale', 'strength'] as const) {
      const value = numberField(fields, key, false);
      if (value !== undefined) body[key] = value;
    }
    const image = decodeImageField('image', files.image);
    // An edit keeps the image's size unless `size` asks for another.
    const job = jobFrom(ctx, body, { width: image.width, height: image.height });
    job.initImage = imageAtSize(image, job.width, job.height);
    const maskSource = files.mask
      ? decodeImageField('mask', files.mask)
      : hasTransparency(image)
        ? image
        : undefined;
    if (maskSource) job.mask = maskFromTransparency(maskSource, job.width, job.height);
    if (body.strength !== undefined) job.strength = body.strength;
    const result = await ctx.generate('openai', request, reply, job);
    return imagesResponse(result);
  });
}
