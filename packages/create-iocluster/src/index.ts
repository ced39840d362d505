export type { ScaffoldOptions } from './scaffold.js';
export { ScaffoldError, scaffold } from './scaffold.js';
