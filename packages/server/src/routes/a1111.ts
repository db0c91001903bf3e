import { NotImplementedError } from '@latentkit/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type A1111Body,
  IMG2IMG_DEFAULTS,
  IMG2IMG_FIELDS,
  img2imgSchema,
  TXT2IMG_DEFAULTS,
  TXT2IMG_FIELDS,
  txt2imgSchema,
} from '../a1111/body-fields.js';
import { type A1111Job, img2imgJob, txt2imgJob } from '../a1111/generation-job.js';
import { infoJson } from '../a1111/info-json.js';
import { progressResponse } from '../a1111/progress-response.js';
import { samplerItems, schedulerItems } from '../a1111/sampler-names.js';
import { isServedModel } from '../a1111/unsupported-values.js';
import { checkBodyKeys } from '../request-checks.js';
import type { ServerContext } from '../server-context.js';

/** What `info.version` says. */
const VERSION = 'latentkit-server 0.1.0';

/** The options `GET /sdapi/v1/options` reports (and `POST` accepts unchanged). */
function currentOptions(ctx: ServerContext): Record<string, unknown> {
  return {
    sd_model_checkpoint: ctx.modelName,
    sd_checkpoint_hash: null,
    sd_vae: 'Automatic',
    CLIP_stop_at_last_layers: 1,
    eta_ddim: 0,
    eta_ancestral: 1,
    eta_noise_seed_delta: 0,
    samples_format: 'png',
    samples_save: false,
    grid_save: false,
    live_previews_enable: true,
    show_progress_every_n_steps: 10,
  };
}

/**
 * AUTOMATIC1111's web UI API under `/sdapi/v1`, with A1111 1.10's field names and response shapes:
 * `POST txt2img` and `img2img` (init image, mask → inpainting), `GET progress` (with the live preview),
 * `POST interrupt` (the interrupted request answers with the images so far), `GET samplers`, `GET
 * schedulers`, `GET sd-models`, `GET`/`POST options`, and the (empty) lists front ends ask for: `sd-vae`,
 * `loras`, `prompt-styles`, `embeddings`, `upscalers` ("None"). A1111 fields of features not built here are accepted
 * at their neutral values and refused with 501 otherwise; unknown fields get 400 with a did-you-mean.
 */
export function a1111Routes(app: FastifyInstance, ctx: ServerContext): void {
  /** Jobs that /interrupt stopped (reported as `state.interrupted` while they finish). */
  const interrupted = new Set<string>();

  async function run(
    route: 'txt2img' | 'img2img',
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<Record<string, unknown>> {
    const body = (request.body ?? {}) as A1111Body;
    const defaults = route === 'txt2img' ? TXT2IMG_DEFAULTS : IMG2IMG_DEFAULTS;
    checkBodyKeys(`an A1111 ${route} request`, body, route === 'txt2img' ? TXT2IMG_FIELDS : IMG2IMG_FIELDS);
    const startedAt = Date.now();
    const made: A1111Job = route === 'txt2img' ? txt2imgJob(ctx, body) : img2imgJob(ctx, body);
    const { job } = made;
    const result = await ctx.generate('a1111', request, reply, job);
    const strength = route === 'img2img' ? (job.strength ?? null) : (body.denoising_strength ?? null);
    const parameters: Record<string, unknown> = {
      ...defaults,
      ...body,
      prompt: job.prompt,
      negative_prompt: job.negativePrompt,
      seed: job.seeds[0],
      subseed: made.subseed,
      // The body's name stays beside its `scheduler`; without one, the sampler that ran.
      sampler_name: body.sampler_name || result.sampler,
      batch_size: job.batchSize,
      n_iter: made.nIter,
      steps: job.steps,
      cfg_scale: job.guidanceScale,
      width: job.width,
      height: job.height,
      denoising_strength: strength,
    };
    if (route === 'img2img' && body.include_init_images !== true) {
      parameters['init_images'] = null;
      parameters['mask'] = null;
    }
    return {
      images: body.send_images === false ? [] : result.images,
      parameters,
      info: infoJson(job, result, {
        modelName: ctx.modelName,
        subseed: made.subseed,
        denoisingStrength: strength,
        startedAt,
        version: VERSION,
      }),
    };
  }

  app.post('/sdapi/v1/txt2img', { schema: { body: txt2imgSchema } }, (request, reply) =>
    run('txt2img', request, reply),
  );
  app.post('/sdapi/v1/img2img', { schema: { body: img2imgSchema } }, (request, reply) =>
    run('img2img', request, reply),
  );

  app.get(
    '/sdapi/v1/progress',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { skip_current_image: { type: 'string', enum: ['true', 'false', '1', '0'] } },
        },
      },
    },
    async (request) => {
      const query = request.query as { skip_current_image?: string };
      const status = await ctx.queue.status();
      const active = new Set(status.active.map((j) => j.id));
      for (const id of interrupted) if (!active.has(id)) interrupted.delete(id);
      return progressResponse(status, {
        skipCurrentImage: query.skip_current_image === 'true' || query.skip_current_image === '1',
        interrupted,
        now: Date.now(),
      });
    },
  );

  app.post('/sdapi/v1/interrupt', async () => {
    const status = await ctx.queue.status();
    for (const job of status.active) interrupted.add(job.id);
    await ctx.queue.interruptAll();
    return {};
  });

  app.post('/sdapi/v1/skip', async () => {
    throw new NotImplementedError(
      'skip (stop the current image of a batch and go on with the next) is not built here. Fix: POST /sdapi/v1/interrupt stops the job and returns the images so far.',
    );
  });

  app.get('/sdapi/v1/samplers', async () => {
    return samplerItems();
  });

  app.get('/sdapi/v1/schedulers', async () => {
    return schedulerItems();
  });

  app.get('/sdapi/v1/sd-models', async () => {
    return [
      {
        title: ctx.modelName,
        model_name: ctx.modelName,
        hash: null,
        sha256: null,
        filename: ctx.modelName,
        config: null,
      },
    ];
  });

  // What A1111 front ends list beside the model; none of these features is served here.
  const emptyLists: Record<string, unknown> = {
    'sd-vae': [],
    loras: [],
    'prompt-styles': [],
    embeddings: { loaded: {}, skipped: {} },
    upscalers: [{ name: 'None', model_name: null, model_path: null, model_url: null, scale: 4 }],
  };
  for (const [route, value] of Object.entries(emptyLists)) {
    app.get(`/sdapi/v1/${route}`, async () => {
      return value;
    });
  }

  app.get('/sdapi/v1/options', async () => {
    return currentOptions(ctx);
  });

  app.post('/sdapi/v1/options', { schema: { body: { type: 'object' } } }, async (request) => {
    const current = currentOptions(ctx);
    for (const [key, value] of Object.entries(request.body as Record<string, unknown>)) {
      if (key === 'sd_model_checkpoint' ? isServedModel(value, ctx.modelName) : current[key] === value)
        continue;
      throw new NotImplementedError(
        key === 'sd_model_checkpoint'
          ? `sd_model_checkpoint = ${JSON.stringify(value)}: this server serves one model, ${JSON.stringify(ctx.modelName)}, and does not switch models. Fix: start a server for that model, or send ${JSON.stringify(ctx.modelName)}.`
          : `option ${key} = ${JSON.stringify(value)}: this server does not change its options at run time. Fix: send per-request settings in the txt2img / img2img body (override_settings.CLIP_stop_at_last_layers for CLIP skip).`,
      );
    }
    return null;
  });
}
