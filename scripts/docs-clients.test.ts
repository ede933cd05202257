/**
 * docs/clients.md shows the few lines each client needs. Each snippet must be one a test runs:
 * the comment `<!-- from: <file> -->` right above a code block names the file, and the block's
 * lines must appear there, in order (indentation and blank lines ignored; a snippet may leave
 * out the lines between, as a page's setup shows only the lines a user writes).
 */
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

interface Snippet {
  from: string | undefined;
  lines: string[];
  line: number;
}

/** The fenced code blocks of a Markdown page, each with the file its `from:` comment names. */
function snippetsOf(markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith("```")) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) body.push(lines[i]!);
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === "") before--;
    const from = /^<!--\s*from:\s*(\S+)\s*-->$/.exec(lines[before]?.trim() ?? "")?.[1];
    snippets.push({ from, lines: body.map((l) => l.trim()).filter((l) => l !== ""), line: start + 1 });
  }
  return snippets;
}

/** Whether every line of `wanted` is a whole line of `source`, in the same order (indentation ignored). */
function appearsIn(source: string, wanted: string[]): boolean {
  const lines = source.split("\n").map((l) => l.trim());
  if (wanted.length === 0) return false;
  let at = 0;
  for (const line of wanted) {
    const found = lines.indexOf(line, at);
    if (found === -1) return false;
    at = found + 1;
  }
  return true;
}

it("every snippet in docs/clients.md names a file and its lines appear there in order", async () => {
  const page = await fs.readFile(path.join(root, "docs/clients.md"), "utf8");
  const problems: string[] = [];
  for (const snippet of snippetsOf(page)) {
    if (!snippet.from) {
      problems.push(`docs/clients.md:${snippet.line}: a code block without <!-- from: <file> --> above it`);
      continue;
    }
    const source = await fs.readFile(path.join(root, snippet.from), "utf8").catch(() => undefined);
    if (source === undefined) problems.push(`docs/clients.md:${snippet.line}: ${snippet.from} does not exist`);
    else if (!appearsIn(source, snippet.lines)) problems.push(`docs/clients.md:${snippet.line}: its lines are not all in ${snippet.from}`);
  }
  assert.deepEqual(problems, []);
});

it("the check finds a snippet only where its lines appear in order", () => {
  const [snippet] = snippetsOf("<!-- from: x.ts -->\n```js\n  a();\n\n  b();\n```\n");
  assert.deepEqual(snippet, { from: "x.ts", lines: ["a();", "b();"], line: 2 });
  assert.equal(appearsIn("x\n    a();\n  b();\n", snippet.lines), true);
  assert.equal(appearsIn("a();\nc();\nb();\n", snippet.lines), true);
  assert.equal(appearsIn("b();\na();\n", snippet.lines), false);
  assert.equal(appearsIn("  a(); // one call\nb();\n", snippet.lines), false);
  assert.equal(snippetsOf("text\n```sh\nls\n```\n")[0]!.from, undefined);
});
