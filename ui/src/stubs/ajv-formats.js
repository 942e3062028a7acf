// Stands in for ajv-formats in the bundle (see noClientValidation.js): never called.
import { OFF } from '../noClientValidation.js';

export default function addFormats() {
  throw new Error(OFF);
}
