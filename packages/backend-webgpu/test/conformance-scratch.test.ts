/**
 * Core's conformance kit once more, with every dispatch run through the scratch buffers
 * (`maxLiveBindGroups: 0`): the path taken when a long synchronous stream of ops has as many bind
 * groups alive as allowed. It must compute exactly what bound dispatches compute.
 */
import { runConformance } from '@mru/core/testing';
import { makeBackend } from './helpers.js';

runConformance({ name: 'webgpu (scratch bindings)', factory: () => makeBackend({ maxLiveBindGroups: 0 }) });
