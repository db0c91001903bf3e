/**
 * The latentkit browser demo: loads a diffusers ONNX model in a Web Worker (the shipped "shapes" model
 * by default) and generates with the settings on the page. Query parameters preset the form —
 * `?model=<url>&provider=wasm&threads=2&autoload=1` — which is also how the browser tests drive it. The
 * model may be a Hugging Face repository id (`?model=org/name`, with `&revision=…` and `&hubUrl=…` for a
 * mirror or a local test hub).
 * "Upscale ×4" runs the shapes world's x4 upscaler (or `?upscaler=<url>`) on the image shown. The Layout
 * panel draws boxes with a phrase each and "Generate layout" runs the shapes world's grounded model (or
 * `?layoutModel=<url>`) on them. SDXL folders load too (`?model=<sdxl folder>`, e.g. an SDXL-Turbo export):
 * the worker runs them with StableDiffusionXLPipeline, and the status line says so; the Refiner URL field
 * (`?refiner=<url>&highNoiseFrac=0.8`) then finishes each image with an SDXL refiner (base + refiner).
 */

import {
  clearModelCache,
  createGenerationWorker,
  drawImage,
  type GenerationWorker,
  listCachedModels,
  MAX_LAYOUT_OBJECTS,
  resolveModelSource,
  toPngBlob,
  type WebExecutionProvider,
} from '@latentkit/backend-web';
import {
  formatGenerationParameters,
  generationParametersFrom,
  type RefinerHandOffParameters,
  type ResolvedParameters,
  type RgbaImage,
  refinerGenerationParameters,
} from '@latentkit/core';
import {
  shapesLayoutDefaults,
  shapesModelDefaults,
  shapesModelName,
  shapesUpscalerDefaults,
} from '@latentkit/model-shapes';
import { a1111SamplerName, a1111Schedulers } from '@latentkit/schedulers';
import { LayoutEditor } from './layout-editor.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  refinerRow: $<HTMLDivElement>('refiner-row'),
  refinerUrl: $<HTMLInputElement>('refiner-url'),
  highNoiseFrac: $<HTMLInputElement>('high-noise-frac'),
  modelUrl: $<HTMLInputElement>('model-url'),
  hubToken: $<HTMLInputElement>('hub-token'),
  provider: $<HTMLSelectElement>('provider'),
  threads: $<HTMLInputElement>('threads'),
  load: $<HTMLButtonElement>('load'),
  downloadProgress: $<HTMLProgressElement>('download-progress'),
  modelStatus: $<HTMLParagraphElement>('model-status'),
  cachedModels: $<HTMLUListElement>('cached-models'),
  clearCache: $<HTMLButtonElement>('clear-cache'),
  prompt: $<HTMLTextAreaElement>('prompt'),
  negativePrompt: $<HTMLTextAreaElement>('negative-prompt'),
  steps: $<HTMLInputElement>('steps'),
  guidance: $<HTMLInputElement>('guidance'),
  seed: $<HTMLInputElement>('seed'),
  randomSeed: $<HTMLButtonElement>('random-seed'),
  scheduler: $<HTMLSelectElement>('scheduler'),
  width: $<HTMLSelectElement>('width'),
  height: $<HTMLSelectElement>('height'),
  previews: $<HTMLInputElement>('previews'),
  generate: $<HTMLButtonElement>('generate'),
  cancel: $<HTMLButtonElement>('cancel'),
  stepProgress: $<HTMLProgressElement>('step-progress'),
  status: $<HTMLParagraphElement>('status'),
  preview: $<HTMLCanvasElement>('preview'),
  result: $<HTMLCanvasElement>('result'),
  download: $<HTMLButtonElement>('download'),
  vaeTiling: $<HTMLInputElement>('vae-tiling'),
  upscale: $<HTMLButtonElement>('upscale'),
  upscaleProgress: $<HTMLProgressElement>('upscale-progress'),
  upscaleStatus: $<HTMLParagraphElement>('upscale-status'),
  upscaledFigure: $<HTMLElement>('upscaled-figure'),
  upscaled: $<HTMLCanvasElement>('upscaled'),
  downloadUpscaled: $<HTMLButtonElement>('download-upscaled'),
  layoutPrompt: $<HTMLInputElement>('layout-prompt'),
  layoutResult: $<HTMLCanvasElement>('layout-result'),
  layoutEditor: $<HTMLCanvasElement>('layout-editor'),
  layoutObjects: $<HTMLOListElement>('layout-objects'),
  layoutSteps: $<HTMLInputElement>('layout-steps'),
  layoutGuidance: $<HTMLInputElement>('layout-guidance'),
  layoutBeta: $<HTMLInputElement>('layout-beta'),
  generateLayout: $<HTMLButtonElement>('generate-layout'),
  clearBoxes: $<HTMLButtonElement>('clear-boxes'),
  downloadLayout: $<HTMLButtonElement>('download-layout'),
  layoutProgress: $<HTMLProgressElement>('layout-progress'),
  layoutStatus: $<HTMLParagraphElement>('layout-status'),
};

function setStatus(el: HTMLElement, state: string, text: string): void {
  el.dataset['state'] = state;
  el.textContent = text;
}

/** latentkit's errors carry a stable `code` (class names do not survive minification). */
function describeError(error: unknown): string {
  const e = error as Error & { code?: string };
  return `${e.code ?? e.name}: ${e.message}`;
}

function fillSizes(size: number): void {
  for (const select of [ui.width, ui.height]) {
    select.replaceChildren();
    for (const s of [size / 2, size, size * 1.5, size * 2].filter((v) => v >= 8 && v % 8 === 0)) {
      select.add(new Option(`${s}`, `${s}`, s === size, s === size));
    }
  }
}

const params = new URLSearchParams(location.search);
// The Layout panel starts at the shipped layout model's recommended settings (its card's) when it runs
// that model; the query can set each.
if (params.get('layoutModel') === null) {
  ui.layoutSteps.value = String(shapesLayoutDefaults.numInferenceSteps);
  ui.layoutGuidance.value = String(shapesLayoutDefaults.guidanceScale);
  ui.layoutBeta.value = String(shapesLayoutDefaults.gligenScheduledSamplingBeta);
}
// Steps and guidance follow the loaded model's recommended settings unless the query or the user set them.
const userSet = new Set<HTMLInputElement>();
for (const [key, input] of [
  ['model', ui.modelUrl],
  ['provider', ui.provider],
  ['threads', ui.threads],
  ['steps', ui.steps],
  ['seed', ui.seed],
  ['guidance', ui.guidance],
  ['prompt', ui.prompt],
  ['refiner', ui.refinerUrl],
  ['highNoiseFrac', ui.highNoiseFrac],
  ['layoutPrompt', ui.layoutPrompt],
  ['layoutSteps', ui.layoutSteps],
  ['layoutGuidance', ui.layoutGuidance],
  ['layoutBeta', ui.layoutBeta],
] as const) {
  const value = params.get(key);
  if (value !== null) {
    input.value = value;
    if (input instanceof HTMLInputElement) userSet.add(input);
  }
}
if (params.get('vaeTiling') === '1') ui.vaeTiling.checked = true;
// Tiled VAE: diffusers' 512 px tiles, or `?vaeTileSize=<px>`.
const vaeTileSize = params.get('vaeTileSize');
const vaeTiling = () =>
  ui.vaeTiling.checked && (vaeTileSize === null ? true : { tileSampleSize: Number(vaeTileSize) });
for (const input of [ui.steps, ui.guidance]) input.addEventListener('input', () => userSet.add(input));

// One naming: the A1111 sampler names ("DPM++ 2M Karras"), each once.
for (const name of Object.keys(a1111Schedulers)) ui.scheduler.add(new Option(name, name));
fillSizes(64);

/** The A1111 name for a model's scheduler class (added to the list when it has none). */
function schedulerOption(className: string): string {
  const name = Object.entries(a1111Schedulers).find(([, entry]) => entry.className === className)?.[0];
  if (name) return name;
  if (![...ui.scheduler.options].some((o) => o.value === className)) {
    ui.scheduler.add(new Option(className, className));
  }
  return className;
}

/**
 * The steps and guidance the model's card recommends: the shipped model's (DDIM, 50 steps, guidance 5);
 * for SDXL folders diffusers' SDXL defaults (50 steps, guidance 5), or SDXL-Turbo's (1 step, no guidance)
 * when the model's name says "turbo"; else diffusers' defaults (50 steps, guidance 7.5).
 */
function recommendedSettings(
  modelUrl: string,
  pipeline: string,
): { numInferenceSteps: number; guidanceScale: number } {
  const shipped = new URL('./models/shapes/', location.href).href;
  if (new URL(modelUrl, location.href).href === shipped) return shapesModelDefaults;
  if (pipeline === 'StableDiffusionXLPipeline') {
    return /turbo/i.test(modelUrl)
      ? { numInferenceSteps: 1, guidanceScale: 0 }
      : { numInferenceSteps: 50, guidanceScale: 5 };
  }
  return { numInferenceSteps: 50, guidanceScale: 7.5 };
}

/**
 * The x4 upscaler behind "Upscale ×4": the shapes world's (served beside the model, copied into the build),
 * or `?upscaler=<url>`. Its settings are the model card's (`shapesUpscalerDefaults`); the query can set
 * `upscaleSteps`, `upscaleGuidance` and `noiseLevel`.
 */
const upscaler = {
  url: params.get('upscaler') ?? './models/shapes-upscaler/',
  name: params.get('upscaler') === null ? 'shapes-upscaler' : 'upscaler',
  numInferenceSteps: Number(params.get('upscaleSteps') ?? shapesUpscalerDefaults.numInferenceSteps),
  guidanceScale: Number(params.get('upscaleGuidance') ?? shapesUpscalerDefaults.guidanceScale),
  noiseLevel: Number(params.get('noiseLevel') ?? shapesUpscalerDefaults.noiseLevel),
};

/**
 * The grounded model behind "Generate layout": the shapes world's (served beside the model, copied into
 * the build), or `?layoutModel=<url>`.
 */
const layoutModel = {
  url: params.get('layoutModel') ?? './models/shapes-layout/',
  name: params.get('layoutModel') === null ? 'shapes-layout' : 'layout',
};

let worker: GenerationWorker | undefined;
let workerKey = '';
let lastImage: RgbaImage | undefined;
let lastSeed = '';
let pngUrl: string | undefined;
let upscaledPngUrl: string | undefined;

/** The hub options from the query: `revision` and `hubUrl` (for hub ids; a token never goes in a URL). */
const hubOptions = {
  ...(params.get('revision') ? { revision: params.get('revision')! } : {}),
  ...(params.get('hubUrl') ? { hubUrl: params.get('hubUrl')! } : {}),
};

/** The model's name for the PNG's `Model:` field: the shipped model's, the hub id, else the URL's last folder. */
function modelName(): string {
  const hub = resolveModelSource(ui.modelUrl.value, hubOptions).hub;
  if (hub) return hub.repo;
  const url = new URL(ui.modelUrl.value, location.href);
  if (url.href === new URL('./models/shapes/', location.href).href) return shapesModelName;
  return url.pathname.split('/').filter(Boolean).at(-1) ?? url.host;
}

function providers(): WebExecutionProvider[] {
  const choice = ui.provider.value;
  return choice === 'auto' ? ['webgpu', 'wasm'] : [choice as WebExecutionProvider];
}

async function refreshCache(): Promise<void> {
  const models = await listCachedModels();
  ui.cachedModels.replaceChildren(
    ...models.map((m) => {
      const li = document.createElement('li');
      li.textContent = `${m.url} — ${m.files.length} files, ${(m.totalBytes / 1e6).toFixed(1)} MB`;
      return li;
    }),
  );
}

/** The wasm threads asked for, if any. */
function threads(): number | undefined {
  return ui.threads.value === '' ? undefined : Number(ui.threads.value);
}

/** The worker, started on first use, and again when the thread count changed. */
function ensureWorker(): GenerationWorker {
  // onnxruntime-web fixes its thread count when it starts: a new thread count needs a new worker.
  const key = `${threads()}`;
  if (!worker || key !== workerKey) {
    worker?.terminate();
    worker = createGenerationWorker(
      new Worker(new URL('./generation.worker.ts', import.meta.url), { type: 'module' }),
    );
    workerKey = key;
  }
  return worker;
}

/** The load options the model panel says (providers, threads), for the upscaler and the grounded model. */
function loadOptions() {
  const n = threads();
  return {
    providers: providers(),
    ...(n !== undefined ? { numThreads: n } : {}),
    logLevel: 'error' as const,
  };
}

async function load(): Promise<void> {
  ui.generate.disabled = true;
  ui.load.disabled = true;
  const gen = ensureWorker();
  setStatus(ui.modelStatus, 'loading', 'Loading…');
  ui.downloadProgress.value = 0;
  const warnings: string[] = [];
  try {
    const result = await gen.load(ui.modelUrl.value, {
      ...loadOptions(),
      ...hubOptions,
      // Sent to the hub only (never to its CDN), and never shown.
      ...(ui.hubToken.value !== '' ? { token: ui.hubToken.value } : {}),
      onProgress: (p) => {
        ui.downloadProgress.value = p.totalBytes > 0 ? p.totalLoaded / p.totalBytes : 0;
        setStatus(ui.modelStatus, 'loading', `Loading ${p.file} (${(p.totalLoaded / 1e6).toFixed(1)} MB)…`);
      },
      onWarning: (m) => warnings.push(m),
    });
    ui.downloadProgress.value = 1;
    const on = [...new Set(Object.values(result.providers))].join(' + ');
    setStatus(
      ui.modelStatus,
      'ready',
      `Loaded ${result.pipeline === 'StableDiffusionXLPipeline' ? 'an SDXL model ' : ''}in ${Math.round(result.loadMs)} ms on ${on} (${result.numThreads} wasm thread${result.numThreads === 1 ? '' : 's'}).` +
        (warnings.length ? ` ${warnings.join(' ')}` : ''),
    );
    ui.modelStatus.dataset['providers'] = JSON.stringify(result.providers);
    ui.modelStatus.dataset['threads'] = String(result.numThreads);
    ui.modelStatus.dataset['pipeline'] = result.pipeline;
    // The refiner field is for SDXL models only (the worker refuses a refiner on others).
    ui.refinerRow.hidden = result.pipeline !== 'StableDiffusionXLPipeline';
    ui.scheduler.value = schedulerOption(result.scheduler);
    const recommended = recommendedSettings(ui.modelUrl.value, result.pipeline);
    if (!userSet.has(ui.steps)) ui.steps.value = String(recommended.numInferenceSteps);
    if (!userSet.has(ui.guidance)) ui.guidance.value = String(recommended.guidanceScale);
    if (result.imageSize) fillSizes(result.imageSize);
    ui.generate.disabled = false;
  } catch (error) {
    setStatus(ui.modelStatus, 'error', describeError(error));
  } finally {
    ui.load.disabled = false;
    void refreshCache();
  }
}

/** The refiner of a generation: the Refiner URL (`?refiner=<url>`) on an SDXL model, else none. */
function refinerRequest() {
  const url = ui.refinerUrl.value.trim();
  if (ui.refinerRow.hidden || url === '') return undefined;
  return { model: url, highNoiseFrac: Number(ui.highNoiseFrac.value), loadOptions: loadOptions() };
}

/** A base + refiner image's A1111 parameters: the base's, then `Refiner: <folder>, Refiner switch at: <frac>`. */
function refinerInfotext(parameters: ResolvedParameters, refinerUrl: string): string {
  const { highNoiseFrac, refinerPass } = parameters as RefinerHandOffParameters;
  const from = (p: ResolvedParameters) =>
    generationParametersFrom(p, { model: modelName(), sampler: a1111SamplerName });
  const name = new URL(refinerUrl, location.href).pathname.split('/').filter(Boolean).at(-1) ?? 'refiner';
  return formatGenerationParameters(
    refinerGenerationParameters(from(parameters), from(refinerPass), { name, switchAt: highNoiseFrac }),
  );
}

async function generate(): Promise<void> {
  if (!worker) return;
  ui.generate.disabled = true;
  ui.upscale.disabled = true;
  ui.cancel.disabled = false;
  // The result canvas and the Download button keep showing the last image until a new one is done (an
  // error or a cancel leaves both as they were).
  ui.stepProgress.value = 0;
  setStatus(ui.status, 'running', 'Generating…');
  try {
    const refiner = refinerRequest();
    const result = await worker.generate({
      ...(refiner ? { refiner } : {}),
      prompt: ui.prompt.value,
      negativePrompt: ui.negativePrompt.value,
      numInferenceSteps: Number(ui.steps.value),
      guidanceScale: Number(ui.guidance.value),
      seed: Number(ui.seed.value),
      scheduler: ui.scheduler.value,
      width: Number(ui.width.value),
      height: Number(ui.height.value),
      vaeTiling: vaeTiling(),
      ...(ui.previews.checked ? { preview: { every: 1, mode: 'decode' as const } } : {}),
      onProgress: (p) => setStatus(ui.status, 'running', `Loading the refiner: ${p.file}…`),
      onStep: (s) => {
        ui.stepProgress.value = (s.step + 1) / s.totalSteps;
        const whose = s.pass === 'refiner' ? 'Refiner step' : 'Step';
        setStatus(ui.status, 'running', `${whose} ${s.step + 1} of ${s.totalSteps}…`);
        const preview = s.previews?.[0];
        if (preview) drawImage(preview, ui.preview);
      },
    });
    const image = result.images[0]!;
    const png = await toPngBlob(image, {
      parameters: refiner ? refinerInfotext(result.parameters, refiner.model) : result.parameters,
      model: modelName(),
    });
    lastImage = image;
    lastSeed = String(result.parameters.images[0]?.seed ?? ui.seed.value);
    drawImage(lastImage, ui.result);
    drawImage(lastImage, ui.preview);
    if (pngUrl) URL.revokeObjectURL(pngUrl);
    pngUrl = URL.createObjectURL(png);
    ui.download.hidden = false;
    ui.upscale.hidden = false;
    ui.status.dataset['ms'] = String(result.totalMs - result.previewMs);
    setStatus(
      ui.status,
      'done',
      `Done in ${Math.round(result.totalMs)} ms` +
        (result.previewMs > 0 ? ` (${Math.round(result.previewMs)} ms of it previews)` : '') +
        '.',
    );
  } catch (error) {
    if (lastImage) drawImage(lastImage, ui.preview);
    const cancelled = (error as Error).name === 'AbortError';
    setStatus(ui.status, cancelled ? 'cancelled' : 'error', cancelled ? 'Cancelled.' : describeError(error));
  } finally {
    ui.generate.disabled = false;
    ui.upscale.disabled = false;
    ui.cancel.disabled = true;
  }
}

/** Upscales the image shown ×4 in the worker; shows the result and offers its PNG. */
async function upscale(): Promise<void> {
  if (!worker || !lastImage) return;
  ui.upscale.disabled = true;
  ui.generate.disabled = true;
  ui.cancel.disabled = false;
  ui.upscaleProgress.hidden = false;
  ui.upscaleProgress.value = 0;
  setStatus(ui.upscaleStatus, 'running', 'Upscaling…');
  try {
    const result = await worker.upscale({
      model: upscaler.url,
      loadOptions: loadOptions(),
      image: lastImage,
      prompt: ui.prompt.value,
      negativePrompt: ui.negativePrompt.value,
      numInferenceSteps: upscaler.numInferenceSteps,
      guidanceScale: upscaler.guidanceScale,
      noiseLevel: upscaler.noiseLevel,
      seed: Number(lastSeed),
      vaeTiling: vaeTiling(),
      onProgress: (p) => setStatus(ui.upscaleStatus, 'running', `Loading the upscaler: ${p.file}…`),
      onStep: (s) => {
        ui.upscaleProgress.value = (s.step + 1) / s.totalSteps;
        setStatus(ui.upscaleStatus, 'running', `Upscaling: step ${s.step + 1} of ${s.totalSteps}…`);
      },
    });
    const image = result.images[0]!;
    const png = await toPngBlob(image, { parameters: result.parameters, model: upscaler.name });
    drawImage(image, ui.upscaled);
    ui.upscaledFigure.hidden = false;
    if (upscaledPngUrl) URL.revokeObjectURL(upscaledPngUrl);
    upscaledPngUrl = URL.createObjectURL(png);
    ui.downloadUpscaled.hidden = false;
    ui.upscaleStatus.dataset['ms'] = String(result.totalMs);
    setStatus(
      ui.upscaleStatus,
      'done',
      `Upscaled to ${image.width}×${image.height} in ${Math.round(result.totalMs)} ms.`,
    );
  } catch (error) {
    const cancelled = (error as Error).name === 'AbortError';
    setStatus(
      ui.upscaleStatus,
      cancelled ? 'cancelled' : 'error',
      cancelled ? 'Cancelled.' : describeError(error),
    );
  } finally {
    ui.upscale.disabled = false;
    ui.generate.disabled = false;
    ui.cancel.disabled = true;
  }
}

const editor = new LayoutEditor({
  canvas: ui.layoutEditor,
  list: ui.layoutObjects,
  maxObjects: MAX_LAYOUT_OBJECTS,
  onRefuse: (message) => setStatus(ui.layoutStatus, 'refused', message),
});
let layoutPngUrl: string | undefined;
let layoutSeed = '';

/**
 * "Generate layout": the boxes and phrases drawn go to the worker, which runs the grounded model on them
 * (StableDiffusionGLIGENPipeline); the image appears under the boxes. A bad layout (no box, a box without
 * a phrase) comes back as the worker's typed error, shown in the status line.
 */
async function generateLayout(): Promise<void> {
  // The model panel's worker when there is one (a layout needs no model loaded there).
  const gen = worker ?? ensureWorker();
  ui.generateLayout.disabled = true;
  ui.cancel.disabled = false;
  ui.layoutProgress.value = 0;
  setStatus(ui.layoutStatus, 'running', 'Generating the layout…');
  try {
    const result = await gen.generateLayout({
      model: layoutModel.url,
      loadOptions: loadOptions(),
      layout: editor.objects,
      prompt: ui.layoutPrompt.value,
      negativePrompt: ui.negativePrompt.value,
      numInferenceSteps: Number(ui.layoutSteps.value),
      guidanceScale: Number(ui.layoutGuidance.value),
      gligenScheduledSamplingBeta: Number(ui.layoutBeta.value),
      seed: Number(ui.seed.value),
      onProgress: (p) => setStatus(ui.layoutStatus, 'running', `Loading the layout model: ${p.file}…`),
      onStep: (s) => {
        ui.layoutProgress.value = (s.step + 1) / s.totalSteps;
        setStatus(ui.layoutStatus, 'running', `Layout: step ${s.step + 1} of ${s.totalSteps}…`);
      },
    });
    const image = result.images[0]!;
    drawImage(image, ui.layoutResult);
    layoutSeed = String(result.parameters.images[0]?.seed ?? ui.seed.value);
    const png = await toPngBlob(image, { parameters: result.parameters, model: layoutModel.name });
    if (layoutPngUrl) URL.revokeObjectURL(layoutPngUrl);
    layoutPngUrl = URL.createObjectURL(png);
    ui.downloadLayout.hidden = false;
    // The layout as the worker's pipeline ran it (phrases, boxes, β): what the tests compare with the drag.
    ui.layoutStatus.dataset['layout'] = JSON.stringify(result.parameters.layout ?? null);
    ui.layoutStatus.dataset['ms'] = String(result.totalMs);
    const n = result.parameters.layout?.boxes.length ?? 0;
    setStatus(
      ui.layoutStatus,
      'done',
      `${image.width}×${image.height} from ${n} box${n === 1 ? '' : 'es'} in ${Math.round(result.totalMs)} ms.`,
    );
  } catch (error) {
    const cancelled = (error as Error).name === 'AbortError';
    setStatus(
      ui.layoutStatus,
      cancelled ? 'cancelled' : 'error',
      cancelled ? 'Cancelled.' : describeError(error),
    );
  } finally {
    ui.generateLayout.disabled = false;
    ui.cancel.disabled = true;
  }
}

ui.generateLayout.addEventListener('click', () => void generateLayout());
ui.clearBoxes.addEventListener('click', () => editor.clear());
ui.downloadLayout.addEventListener('click', () => {
  if (!layoutPngUrl) return;
  const link = document.createElement('a');
  link.href = layoutPngUrl;
  link.download = `latentkit-${layoutSeed}-layout.png`;
  link.click();
});
ui.load.addEventListener('click', () => void load());
ui.upscale.addEventListener('click', () => void upscale());
ui.downloadUpscaled.addEventListener('click', () => {
  if (!upscaledPngUrl) return;
  const link = document.createElement('a');
  link.href = upscaledPngUrl;
  link.download = `latentkit-${lastSeed}-x4.png`;
  link.click();
});
ui.download.addEventListener('click', () => {
  if (!pngUrl) return;
  const link = document.createElement('a');
  link.href = pngUrl;
  link.download = `latentkit-${lastSeed}.png`;
  link.click();
});
ui.generate.addEventListener('click', () => void generate());
ui.cancel.addEventListener('click', () => worker?.cancel());
ui.randomSeed.addEventListener('click', () => {
  ui.seed.value = String(Math.floor(Math.random() * 2 ** 32));
});
ui.clearCache.addEventListener('click', async () => {
  await clearModelCache();
  await refreshCache();
});
void refreshCache();
if (params.get('autoload') !== '0') void load();
