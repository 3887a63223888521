import assert from "node:assert/strict";
import { ConfigError } from "../config/errors.ts";
import { loadSchemaFile, parseSchemaFile } from "./schema_file.ts";

function problems(text: string): readonly string[] {
  try {
    parseSchemaFile(text, "studio.yaml");
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.file, "studio.yaml");
    return error.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseSchemaFile() adds sg_* fields to built-in entities and declares custom ones", () => {
  const schema = parseSchemaFile(
    JSON.stringify({
      entities: {
        Shot: { fields: { sg_vendor: "text", sg_frames: { type: "number", default: 0 } } },
        CustomEntity01: {
          display_name: "Episode",
          fields: { sg_shots: { type: "multi_entity", link_types: ["Shot"] } },
        },
      },
    }),
    "studio.json",
  );
  const shot = schema.entityDef("Shot")!;
  assert.equal(shot.fields.sg_vendor?.type, "text");
  assert.equal(shot.fields.sg_frames?.default, 0);
  assert.equal(shot.fields.code?.type, "text"); // the built-in fields stay
  const episode = schema.entityDef("custom_entity01s")!;
  assert.equal(episode.type, "CustomEntity01");
  assert.equal(episode.displayName, "Episode");
  assert.equal(episode.displayField, "code");
  assert.deepEqual(episode.fields.sg_shots?.linkTypes, ["Shot"]);
  assert.equal(episode.fields.project?.type, "entity");
});

Deno.test("parseSchemaFile() names the file and key of every problem", () => {
  const found = problems(`entities:
  Shot:
    fields:
      vendor: text
      sg_kind: colour
      sg_link: { type: entity, link_types: [Nope] }
      code: text
  Widget: { fields: {} }
  CustomEntity02:
    colour: red
`);
  assert.deepEqual(found, [
    "studio.yaml: entities.Shot.fields.vendor: custom fields are named sg_*",
    'studio.yaml: entities.Shot.fields.sg_kind.type: "colour" is not one of number, text, ' +
    "status_list, list, checkbox, date_time, entity, multi_entity, image, serializable",
    'studio.yaml: entities.Shot.fields.sg_link.link_types: unknown entity type "Nope"',
    "studio.yaml: entities.Shot.fields.code: Shot already has this field",
    "studio.yaml: entities.Widget: not a built-in entity nor a custom one (CustomEntity01..99, ...)",
    'studio.yaml: entities.CustomEntity02.colour: unknown key (expected "fields" or "display_name")',
  ]);
  assert.match(problems("entities: [")[0]!, /^Cannot read schema "studio\.yaml": /);
  assert.match(problems("fields: {}")[0]!, /expected a mapping with an "entities" mapping/);
});

Deno.test("loadSchemaFile() names a file it cannot read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadSchemaFile(`${dir}/missing.yaml`),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message.startsWith(`Cannot read schema "${dir}/missing.yaml"`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
