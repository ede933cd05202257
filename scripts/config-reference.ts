/** The configuration reference in docs/configuration.md, from the schema and src/config/descriptions.ts (`npm run docs`). */
import { z } from "zod";
import { settingDocs, settingSections, type SettingDoc } from "../src/config/descriptions.js";
import { envSchema } from "../src/config/schema.js";
import { markdownTable } from "./markdown.js";

export function configurationReference(): string {
  const seen = new Set<string>();
  const parts = settingSections.map(({ title, fields }) => {
    const rows = Object.entries(fields).map(([name, schema]) => {
      const doc = (settingDocs as Record<string, SettingDoc | undefined>)[name];
      if (!doc) throw new Error(`${name} has no documentation: add it to settingDocs in src/config/descriptions.ts`);
      seen.add(name);
      return [`\`${name}\``, defaultCell(schema, doc.default), doc.description];
    });
    return `### ${title}\n\n${markdownTable(["variable", "default", "meaning"], rows)}`;
  });
  const missing = Object.keys(envSchema.shape).filter((name) => !seen.has(name));
  if (missing.length > 0) throw new Error(`not in any section of settingSections: ${missing.join(", ")}`);
  return parts.join("\n\n");
}

/** The schema's own default where it has one, so that the page cannot state another. */
function defaultCell(schema: z.ZodType, words: string | undefined): string {
  if (!(schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault)) return words ?? "*(none)*";
  const value: unknown = schema.def.defaultValue;
  const shown = Array.isArray(value) ? (value.length === 0 ? "*(none)*" : `\`${value.join(",")}\``) : `\`${String(value)}\``;
  return words ? `${shown} ${words}` : shown;
}
