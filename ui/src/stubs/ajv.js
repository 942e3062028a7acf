// Stands in for Ajv in the bundle (see noClientValidation.js): never constructed.
import { OFF } from '../noClientValidation.js';

export default class Ajv {
  constructor() {
    throw new Error(OFF);
  }
}
