import { listSchedulerNames } from '@latentkit/schedulers';

/** `latentkit schedulers`: the names `--scheduler` accepts (A1111 names and diffusers class names). */
export function schedulerNames(): string[] {
  return [...listSchedulerNames()];
}
