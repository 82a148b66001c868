// JSON Schema (draft 07, the dialect AsyncAPI 3 payloads use) as a type, and `objectSchema`, which makes the
// compiler hold an object's schema to its TypeScript interface: one schema per field, `required` derived from it.

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';
type JsonValue = string | number | boolean | null;

/** The subset of JSON Schema the event protocol uses. Every member is optional, so it is a weak type. */
export interface JsonSchema {
  title?: string;
  description?: string;
  type?: JsonType | readonly JsonType[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly JsonValue[];
  const?: JsonValue;
  format?: 'uuid' | 'date-time' | 'uri';
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  oneOf?: readonly JsonSchema[];
  examples?: readonly unknown[];
}

/**
 * An optional field's schema. A class with a private member: the compiler tells it apart from a plain JsonSchema,
 * so a field must be declared optional exactly when the interface makes it optional.
 */
export class OptionalField {
  private readonly optional = true;
  constructor(readonly schema: JsonSchema) {}
}

export const optional = (schema: JsonSchema): OptionalField => new OptionalField(schema);

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/** One schema per field of T: an OptionalField for an optional field, a JsonSchema for a required one. */
export type FieldSchemas<T> = {
  [K in keyof T]-?: K extends OptionalKeys<T> ? OptionalField : JsonSchema;
};

/** The object schema of T: a missing, extra or wrongly optional field is a compile error. */
export function objectSchema<T extends object>(
  description: string,
  fields: FieldSchemas<T>,
  options: { additionalProperties?: boolean } = {},
): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, field] of Object.entries(fields) as [string, JsonSchema | OptionalField][]) {
    if (field instanceof OptionalField) {
      properties[name] = field.schema;
    } else {
      properties[name] = field;
      required.push(name);
    }
  }
  return {
    type: 'object',
    description,
    properties,
    required,
    ...(options.additionalProperties === undefined
      ? {}
      : { additionalProperties: options.additionalProperties }),
  };
}
