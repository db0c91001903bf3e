/**
 * Bad scheduler configs and arguments: each row is one bad input, and each must fail at once with an
 * InvalidArgumentError that names the key, shows the value, says what was expected and how to fix it —
 * never a NaN schedule, a RangeError, or a V8 abort.
 */
import { InvalidArgumentError, type LatentkitError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { createScheduler, schedulerClasses } from './registry.js';

// Stable Diffusion 1.5's scheduler_config.json.
const SD15 = {
  _class_name: 'PNDMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

// The shipped model's scheduler/scheduler_config.json (SD 1.x numbers, spacing "leading" written out).
const SHIPPED = {
  _class_name: 'DDIMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  set_alpha_to_one: false,
  steps_offset: 1,
  timestep_spacing: 'leading',
  trained_betas: null,
};

/** The classes whose noise schedule comes from betas (every class but the EDM and flow-matching ones). */
const BETA_CLASSES = Object.keys(schedulerClasses).filter(
  (name) => !name.startsWith('EDM') && !name.startsWith('FlowMatch'),
);

/** Checks that `make` throws an InvalidArgumentError whose message matches every pattern. */
function expectInvalid(make: () => unknown, ...patterns: RegExp[]): void {
  let error: unknown;
  try {
    make();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(InvalidArgumentError);
  const e = error as LatentkitError;
  expect(e.code).toBe('INVALID_ARGUMENT');
  expect(e.message).toMatch(/expected/);
  for (const p of patterns) expect(e.message).toMatch(p);
}

interface ConfigCase {
  /** What is wrong. */
  readonly what: string;
  /** The classes to build (default: every beta-based class). */
  readonly classes?: readonly string[];
  /** Config keys on top of SD 1.5's config. */
  readonly config: Readonly<Record<string, unknown>>;
  /** What the message must contain (the key and the value at least). */
  readonly message: readonly RegExp[];
}

const CONFIG_CASES: readonly ConfigCase[] = [
  // Betas: outside (0, 1) they give NaN ᾱ/σ (issue 14 §2: `beta_start: 0.5, beta_end: 2` made a black PNG).
  {
    what: 'beta_end 2 (with beta_start 0.5)',
    config: { beta_start: 0.5, beta_end: 2 },
    message: [/beta_end = 2/, /between 0 and 1/, /Fix:/],
  },
  { what: 'a negative beta_start', config: { beta_start: -0.001 }, message: [/beta_start = -0.001/] },
  { what: 'a negative beta_end', config: { beta_end: -0.02 }, message: [/beta_end = -0.02/] },
  { what: 'beta_start 0', config: { beta_start: 0 }, message: [/beta_start = 0 /] },
  { what: 'beta_end exactly 1', config: { beta_end: 1 }, message: [/beta_end = 1 /] },
  { what: 'beta_start NaN', config: { beta_start: Number.NaN }, message: [/beta_start = NaN/] },
  { what: 'beta_end "NaN" (Python json)', config: { beta_end: 'NaN' }, message: [/beta_end = NaN/] },
  { what: 'beta_start Infinity', config: { beta_start: 'Infinity' }, message: [/beta_start = Infinity/] },
  { what: 'beta_end a string', config: { beta_end: '0.012' }, message: [/beta_end = "0.012"/] },
  // trained_betas: the list must give one β in (0, 1) per training timestep.
  {
    what: 'trained_betas of the wrong length',
    config: { trained_betas: [0.001, 0.002, 0.003] },
    message: [/trained_betas = "a list of 3 numbers"/, /num_train_timesteps \(1000\)/],
  },
  { what: 'an empty trained_betas', config: { trained_betas: [] }, message: [/a list of 0 numbers/] },
  {
    what: 'a negative trained beta',
    config: { trained_betas: Array.from({ length: 1000 }, (_, i) => (i === 17 ? -0.01 : 0.01)) },
    message: [/trained_betas\[17\] = -0.01/],
  },
  {
    what: 'a trained beta of 1.5',
    config: { trained_betas: Array.from({ length: 1000 }, (_, i) => (i === 999 ? 1.5 : 0.01)) },
    message: [/trained_betas\[999\] = 1.5/],
  },
  {
    what: 'a NaN trained beta',
    config: { trained_betas: Array.from({ length: 1000 }, (_, i) => (i === 3 ? Number.NaN : 0.01)) },
    message: [/trained_betas\[3\] = NaN/],
  },
  {
    what: 'a null inside trained_betas',
    config: { trained_betas: Array.from({ length: 1000 }, (_, i) => (i === 0 ? null : 0.01)) },
    message: [/trained_betas\[0\] = null/],
  },
  {
    what: 'trained_betas not a list',
    config: { trained_betas: '0.01' },
    message: [/trained_betas = "0.01"/, /a list of numbers/],
  },
  // num_train_timesteps: a positive integer within a sane bound, checked before any allocation.
  {
    what: 'num_train_timesteps 3e8 (aborted V8)',
    classes: Object.keys(schedulerClasses),
    config: { num_train_timesteps: 3e8 },
    message: [/num_train_timesteps = 300000000/, /≤ 100000/],
  },
  {
    what: 'num_train_timesteps 0',
    classes: Object.keys(schedulerClasses),
    config: { num_train_timesteps: 0 },
    message: [/num_train_timesteps = 0/],
  },
  {
    what: 'a negative num_train_timesteps',
    classes: Object.keys(schedulerClasses),
    config: { num_train_timesteps: -1000 },
    message: [/num_train_timesteps = -1000/],
  },
  {
    what: 'a fractional num_train_timesteps',
    classes: Object.keys(schedulerClasses),
    config: { num_train_timesteps: 999.5 },
    message: [/num_train_timesteps = 999.5/, /an integer/],
  },
  {
    what: 'num_train_timesteps Infinity',
    classes: Object.keys(schedulerClasses),
    config: { num_train_timesteps: 'Infinity' },
    message: [/num_train_timesteps = Infinity/],
  },
  {
    what: 'num_train_timesteps a string',
    classes: Object.keys(schedulerClasses),
    config: { num_train_timesteps: '1000' },
    message: [/num_train_timesteps = "1000"/],
  },
  // steps_offset: an integer in [0, T).
  {
    what: 'a negative steps_offset',
    classes: ['DDIMScheduler', 'PNDMScheduler', 'EulerDiscreteScheduler', 'DPMSolverMultistepScheduler'],
    config: { steps_offset: -1 },
    message: [/steps_offset = -1/],
  },
  {
    what: 'a fractional steps_offset',
    classes: ['DDIMScheduler', 'LMSDiscreteScheduler', 'UniPCMultistepScheduler'],
    config: { steps_offset: 0.5 },
    message: [/steps_offset = 0.5/],
  },
  {
    what: 'steps_offset ≥ num_train_timesteps',
    classes: [
      'DDIMScheduler',
      'DDPMScheduler',
      'PNDMScheduler',
      'EulerDiscreteScheduler',
      'DEISMultistepScheduler',
    ],
    config: { steps_offset: 1000 },
    message: [/steps_offset = 1000/, /less than num_train_timesteps \(1000\)/],
  },
  // Other numeric keys where NaN would follow.
  {
    what: 'dynamic_thresholding_ratio NaN',
    classes: ['DDIMScheduler', 'DDPMScheduler', 'DPMSolverMultistepScheduler', 'UniPCMultistepScheduler'],
    config: { dynamic_thresholding_ratio: Number.NaN },
    message: [/dynamic_thresholding_ratio = NaN/],
  },
  {
    what: 'dynamic_thresholding_ratio 1.5',
    classes: ['DDIMScheduler', 'LCMScheduler', 'DEISMultistepScheduler'],
    config: { dynamic_thresholding_ratio: 1.5 },
    message: [/dynamic_thresholding_ratio = 1.5/, /≤ 1/],
  },
  {
    what: 'sample_max_value NaN',
    classes: ['DDIMScheduler', 'DPMSolverSinglestepScheduler'],
    config: { sample_max_value: 'NaN' },
    message: [/sample_max_value = NaN/],
  },
  {
    what: 'clip_sample_range 0',
    classes: ['DDIMScheduler', 'DDPMScheduler', 'LCMScheduler'],
    config: { clip_sample_range: 0 },
    message: [/clip_sample_range = 0/, /> 0/],
  },
  {
    what: 'lambda_min_clipped NaN',
    classes: ['DPMSolverMultistepScheduler'],
    config: { lambda_min_clipped: 'NaN' },
    message: [/lambda_min_clipped = NaN/],
  },
  {
    what: 'solver_order 0',
    classes: [
      'DPMSolverMultistepScheduler',
      'DPMSolverSinglestepScheduler',
      'DEISMultistepScheduler',
      'UniPCMultistepScheduler',
    ],
    config: { solver_order: 0 },
    message: [/solver_order = 0/],
  },
  {
    what: 'original_inference_steps 0',
    classes: ['LCMScheduler', 'TCDScheduler'],
    config: { original_inference_steps: 0 },
    message: [/original_inference_steps = 0/],
  },
  {
    what: 'original_inference_steps above num_train_timesteps',
    classes: ['LCMScheduler', 'TCDScheduler'],
    config: { original_inference_steps: 5000 },
    message: [/original_inference_steps = 5000/, /at most num_train_timesteps/],
  },
  {
    what: 'timestep_scaling NaN',
    classes: ['LCMScheduler', 'TCDScheduler'],
    config: { timestep_scaling: Number.NaN },
    message: [/timestep_scaling = NaN/],
  },
  {
    what: 'sigma_min negative (EDM)',
    classes: ['EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler'],
    config: { sigma_min: -0.002 },
    message: [/sigma_min = -0.002/, /> 0/],
  },
  {
    what: 'sigma_max NaN (EDM)',
    classes: ['EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler'],
    config: { sigma_max: Number.NaN },
    message: [/sigma_max = NaN/],
  },
  {
    what: 'sigma_min above sigma_max',
    classes: ['EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler', 'EulerDiscreteScheduler'],
    config: { sigma_min: 100, sigma_max: 80 },
    message: [/sigma_min = 100/, /less than sigma_max \(80\)/],
  },
  {
    what: 'sigma_data 0 (EDM)',
    classes: ['EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler'],
    config: { sigma_data: 0 },
    message: [/sigma_data = 0/],
  },
  {
    what: 'rho 0 (EDM)',
    classes: ['EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler'],
    config: { rho: 0 },
    message: [/rho = 0/],
  },
  {
    what: 'shift 0 (flow matching)',
    classes: ['FlowMatchEulerDiscreteScheduler'],
    config: { shift: 0 },
    message: [/shift = 0/],
  },
  {
    what: 'shift NaN (flow matching)',
    classes: ['FlowMatchEulerDiscreteScheduler'],
    config: { shift: 'NaN' },
    message: [/shift = NaN/],
  },
  {
    what: 'shift_terminal 1 (flow matching: a division by 1 − shift_terminal)',
    classes: ['FlowMatchEulerDiscreteScheduler'],
    config: { shift_terminal: 1 },
    message: [/shift_terminal = 1 /, /< 1/],
  },
  // Keys a class uses, with a value no diffusers scheduler knows.
  {
    what: 'variance_type with a typo',
    classes: ['DPMSolverMultistepScheduler', 'DPMSolverSinglestepScheduler'],
    config: { variance_type: 'lerned_range' },
    message: [/variance_type = "lerned_range"/, /"learned_range"/],
  },
  {
    what: 'an unknown algorithm_type for DEIS',
    classes: ['DEISMultistepScheduler'],
    config: { algorithm_type: 'dpmsolver+++' },
    message: [/algorithm_type = "dpmsolver\+\+\+"/],
  },
];

describe('scheduler config bad inputs (fromConfig)', () => {
  it.each(CONFIG_CASES.map((c) => [c.what, c] as const))('%s', (_what, testCase) => {
    const classes = testCase.classes ?? BETA_CLASSES;
    expect(classes.length).toBeGreaterThan(0);
    for (const className of classes) {
      const cls = schedulerClasses[className]!;
      expectInvalid(
        () => cls.fromConfig({ ...SD15, ...testCase.config }),
        new RegExp(className),
        ...testCase.message,
      );
    }
  });

  it('num_train_timesteps 1e9 fails before allocating (no RangeError, no abort)', () => {
    for (const cls of Object.values(schedulerClasses)) {
      expectInvalid(() => cls.fromConfig({ num_train_timesteps: 1e9 }), /num_train_timesteps = 1000000000/);
    }
  });

  it('a config that is not an object', () => {
    for (const bad of [null, [], 'DDIMScheduler', 42]) {
      expectInvalid(
        () => createScheduler('DDIM', bad as never),
        /DDIMScheduler\.fromConfig config/,
        /scheduler_config\.json object/,
      );
    }
  });

  it('overrides that are not an object', () => {
    for (const bad of [null, ['use_karras_sigmas'], 'karras']) {
      expectInvalid(
        () => schedulerClasses.EulerDiscreteScheduler!.fromConfig(SD15, bad as never),
        /fromConfig overrides/,
      );
    }
  });
});

describe('setTimesteps bad inputs', () => {
  it('DDIM with the shipped config (leading, steps_offset 1) and 1000 steps: a typed error up front (issue 14 §6)', () => {
    // diffusers accepts 1000 in set_timesteps and then fails in step with an IndexError at timestep 1000.
    expectInvalid(
      () => createScheduler('DDIM', SHIPPED).setTimesteps(1000),
      /DDIMScheduler\.setTimesteps numInferenceSteps = 1000/,
      /at most 999 steps/,
      /timestep 1000, past the last training timestep \(999\)/,
      /Fix: use 999 steps or fewer, or timestep_spacing "trailing"/,
    );
  });

  it.each(['DDPM', 'PLMS', 'LMS', 'DPM++ 2M', 'DPM++ 2M SDE Karras', 'UniPC', 'DEIS'])(
    '%s with the shipped config and 1000 steps: a typed error up front (NaN or an IndexError in diffusers)',
    (name) => {
      const scheduler = createScheduler(name, SHIPPED);
      if (name === 'DPM++ 2M SDE Karras') {
        // Karras σ do not come from the spaced timesteps: 1000 steps fit.
        scheduler.setTimesteps(1000);
        expect(scheduler.timesteps.length).toBe(1000);
        return;
      }
      expectInvalid(() => scheduler.setTimesteps(1000), /numInferenceSteps = 1000/, /steps or fewer/);
    },
  );

  it.each([0, -1, 2.5, Number.NaN, 1001])('DDIM setTimesteps(%s)', (steps) => {
    expectInvalid(() => createScheduler('DDIM', SD15).setTimesteps(steps), /numInferenceSteps/);
  });
});
