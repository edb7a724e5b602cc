// The DCSM cores: the TypeScript reference (machine.ts), the native core
// (native.ts, native/), and the facade that puts both behind one interface.

export * from './types';
export * from './errors';
export * from './trace';
export * from './commands';
export { initialState, step, stepBatch, snapshot, finishedPrefixLen, type DcsmState, type StepResult } from './machine';
export {
  createCore, dispatch, TsCore, OUTCOME_FAILED, OUTCOME_SUCCEEDED,
  type Core, type CoreKind, type CreateCoreOptions,
} from './facade';
