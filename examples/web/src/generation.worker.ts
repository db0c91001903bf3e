// generation.worker.ts — the whole worker
import { serveGenerationWorker } from '@latentkit/backend-web';

serveGenerationWorker();
