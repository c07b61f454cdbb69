/**
 * docs/index.md lists every page of docs/, and every relative link in the
 * pages this package owns leads to a file that exists.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { repoRoot } from "./utils/child.ts"

const docs = NodePath.join(repoRoot, "docs")

const links = (file: string) =>
  [...NodeFs.readFileSync(file, "utf8").matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z]+:/i.test(target))

describe("docs", () => {
  it("index.md links every page in docs/", () => {
    const listed = new Set(links(NodePath.join(docs, "index.md")))
    const pages = NodeFs.readdirSync(docs).filter((f) => f.endsWith(".md") && f !== "index.md")
    for (const page of pages) assert.isTrue(listed.has(page), `docs/index.md does not list ${page}`)
  })

  it("relative links of index, cli, factories and from-python resolve", () => {
    for (const page of ["index.md", "cli.md", "factories.md", "from-python.md"]) {
      for (const target of links(NodePath.join(docs, page))) {
        assert.isTrue(NodeFs.existsSync(NodePath.join(docs, target)), `${page} links ${target}, which does not exist`)
      }
    }
  })
})
