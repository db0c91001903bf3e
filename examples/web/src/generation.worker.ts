// The worker the page generates in: latentkit's generation worker, nothing else.
import { serveGenerationWorker } from '@latentkit/backend-web';

serveGenerationWorker();
