// A JSON Forms document (schema, UI schema, data) rendered by the
// maintained vanilla renderers; help texts (descriptions) always shown.

import { JsonForms } from '@jsonforms/react';
import { vanillaCells, vanillaRenderers } from '@jsonforms/vanilla-renderers';
import { noCodegen } from '../noClientValidation.js';

const CONFIG = { showUnfocusedDescription: true, trim: false };

export function Form({ part, data, onChange, readonly = false, errors = [] }) {
  return (
    <JsonForms
      schema={part.schema}
      uischema={part.uischema}
      data={data}
      renderers={vanillaRenderers}
      cells={vanillaCells}
      config={CONFIG}
      readonly={readonly}
      // The server is the judge of the output: only its errors are shown.
      validationMode="NoValidation"
      ajv={noCodegen}
      additionalErrors={errors}
      onChange={onChange ? ({ data: next }) => onChange(next) : undefined}
    />
  );
}
