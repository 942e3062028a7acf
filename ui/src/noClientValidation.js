// The page never validates on its own: the API checks every completion
// against the definition's output schema and its 422 errors are shown at
// the fields. So no validator is compiled here, which keeps the page within
// a Content-Security-Policy without 'unsafe-eval' (Ajv compiles schemas to
// code with `new Function`), and Ajv out of the bundle (build.mjs aliases
// `ajv` and `ajv-formats` to src/stubs/).

export const OFF = 'client-side validation is off: the API validates';

/** What JSON Forms is handed as its Ajv: with validationMode NoValidation it compiles nothing. */
export const noCodegen = {
  compile() {
    // JSON Forms calls this only to pick a oneOf/anyOf branch, inside a try.
    throw new Error(OFF);
  },
  validate() {
    // Only schema-based UI rules call this; the API's UI schemas have none.
    return true;
  },
};
