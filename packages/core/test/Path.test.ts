import { Path } from "@cerulean/core"
import { MemoryFileSystem } from "@cerulean/testing"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { inspect } from "node:util"

const fs = MemoryFileSystem.makeUnsafe()
const other = MemoryFileSystem.makeUnsafe()
const p = (text: string) => new Path(fs, text)

/** One path segment: no slash, not empty, not ".". */
const segment = fc.string({ minLength: 1, unit: "grapheme" }).filter((s) => !s.includes("/") && s !== ".")
const absolute = fc.array(segment, { maxLength: 6 }).map((segs) => p("/" + segs.join("/")))

describe("Path (pure members)", () => {
  it("normalizes: repeated slashes and . segments vanish, .. stays (pure paths never look at the disk)", () => {
    assert.strictEqual(p("/a//b/./c/").toString(), "/a/b/c")
    assert.strictEqual(p("//").toString(), "/")
    assert.strictEqual(p("/a/../b").toString(), "/a/../b")
    assert.strictEqual(p("a/b").toString(), "a/b")
    assert.strictEqual(p("").toString(), ".")
    assert.strictEqual(p("./").toString(), ".")
  })

  it("join (Cerulean's /): strings lose their slashes and are appended; a Path joins with pathlib rules", () => {
    const home = fs.path("home")
    assert.strictEqual(home.join("user").toString(), "/home/user")
    assert.strictEqual(home.join("/user/").toString(), "/home/user")
    assert.strictEqual(home.join("/x").toString(), "/home/x")
    assert.strictEqual(home.join("a/b/", "c").toString(), "/home/a/b/c")
    assert.strictEqual(home.join("").toString(), "/home")
    assert.strictEqual(home.join(p("/etc")).toString(), "/etc")
    assert.strictEqual(home.join(p("rel/dir")).toString(), "/home/rel/dir")
    assert.strictEqual(fs.path("a/b/").toString(), "/a/b")
    assert.strictEqual(fs.path("/", "tmp").toString(), "/tmp")
  })

  it("joinpath (pathlib): an absolute segment replaces everything before it", () => {
    const home = fs.path("home")
    assert.strictEqual(home.joinpath("user").toString(), "/home/user")
    assert.strictEqual(home.joinpath("/x").toString(), "/x")
    assert.strictEqual(home.joinpath("a", "/b", "c").toString(), "/b/c")
    assert.strictEqual(home.joinpath(p("/etc"), "passwd").toString(), "/etc/passwd")
    assert.strictEqual(p(".").joinpath("a").toString(), "a")
  })

  it("name, stem, suffix and suffixes follow pathlib", () => {
    const archive = p("/data/archive.tar.gz")
    assert.strictEqual(archive.name, "archive.tar.gz")
    assert.strictEqual(archive.stem, "archive.tar")
    assert.strictEqual(archive.suffix, ".gz")
    assert.deepStrictEqual(archive.suffixes, [".tar", ".gz"])
    const dotfile = p("/home/.bashrc")
    assert.strictEqual(dotfile.suffix, "")
    assert.strictEqual(dotfile.stem, ".bashrc")
    assert.deepStrictEqual(dotfile.suffixes, [])
    assert.strictEqual(p("/a/file.").suffix, "")
    assert.deepStrictEqual(p("/a/file.").suffixes, [])
    assert.strictEqual(p("/a/noext").suffix, "")
    assert.strictEqual(p("/").name, "")
    assert.strictEqual(p("/a/..").name, "..")
  })

  it("parts, parent and parents", () => {
    assert.deepStrictEqual(p("/a/b/c").parts, ["/", "a", "b", "c"])
    assert.deepStrictEqual(p("a/b").parts, ["a", "b"])
    assert.deepStrictEqual(p("/").parts, ["/"])
    assert.strictEqual(p("/a/b").parent.toString(), "/a")
    assert.strictEqual(p("/a").parent.toString(), "/")
    assert.strictEqual(p("/").parent.toString(), "/")
    assert.strictEqual(p("a").parent.toString(), ".")
    assert.deepStrictEqual(p("/a/b/c").parents.map(String), ["/a/b", "/a", "/"])
    assert.deepStrictEqual(p("a/b").parents.map(String), ["a", "."])
    assert.deepStrictEqual(p("/").parents, [])
    assert.isTrue(p("/a/b").parent.fs.equals(fs))
  })

  it("root and anchor are / for absolute paths and empty for relative ones", () => {
    assert.strictEqual(p("/a").root, "/")
    assert.strictEqual(p("/a").anchor, "/")
    assert.strictEqual(p("a").root, "")
    assert.strictEqual(p("a").anchor, "")
    assert.isTrue(p("/a").isAbsolute())
    assert.isFalse(p("a").isAbsolute())
  })

  it("withName and withSuffix (Cerulean: /home -> /usr, /test.txt -> /test.dat)", () => {
    assert.strictEqual(fs.path("home").withName("usr").toString(), "/usr")
    assert.strictEqual(fs.path("test.txt").withSuffix(".dat").toString(), "/test.dat")
    assert.strictEqual(p("/a/b.tar.gz").withSuffix(".bz2").toString(), "/a/b.tar.bz2")
    assert.strictEqual(p("/a/b.txt").withSuffix("").toString(), "/a/b")
    assert.strictEqual(p("/a/b").withSuffix(".txt").toString(), "/a/b.txt")
    assert.throws(() => p("/").withName("x"), TypeError)
    assert.throws(() => p("/a").withName(""), TypeError)
    assert.throws(() => p("/a").withName("x/y"), TypeError)
    assert.throws(() => p("/a.txt").withSuffix("dat"), TypeError)
    assert.throws(() => p("/a.txt").withSuffix("."), TypeError)
  })

  it("relativeTo gives the rest below an ancestor and throws for a non-ancestor", () => {
    assert.strictEqual(p("/a/b/c").relativeTo(p("/a")).toString(), "b/c")
    assert.strictEqual(p("/a/b/c").relativeTo("/a/b").toString(), "c")
    assert.strictEqual(p("/a").relativeTo("/a").toString(), ".")
    assert.strictEqual(p("/a/b").relativeTo("/").toString(), "a/b")
    assert.throws(() => p("/a/b").relativeTo("/x"), TypeError)
    assert.throws(() => p("/ab").relativeTo("/a"), TypeError)
    assert.throws(() => p("a/b").relativeTo("/a"), TypeError)
    assert.isTrue(p("/a/b").isRelativeTo("/a"))
    assert.isFalse(p("/ab").isRelativeTo("/a"))
  })

  it("asPosix, toString and inspect show the path text", () => {
    assert.strictEqual(p("/a/b").asPosix(), "/a/b")
    assert.strictEqual(`${p("/a/b")}`, "/a/b")
    assert.strictEqual(inspect(p("/a/b")), `Path(memory:${fs.location} /a/b)`)
  })

  it("equals compares the file system and the path", () => {
    assert.isTrue(p("/a").equals(fs.path("a")))
    assert.isTrue(p("/a//b/").equals(p("/a/b")))
    assert.isFalse(p("/a").equals(p("/b")))
    assert.isFalse(p("/a").equals(new Path(other, "/a")))
    assert.isFalse(fs.equals(other))
    assert.isTrue(fs.root.equals(fs.path("")))
  })

  it("property: the parent of p.join(s) is p, and its name is s, for a segment s", () => {
    fc.assert(fc.property(absolute, segment, (base, s) => {
      const child = base.join(s)
      return child.parent.equals(base) && child.name === s
    }))
  })

  it("property: normalizing is idempotent", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (text) => {
      const once = p(text)
      return p(once.toString()).toString() === once.toString()
    }))
    fc.assert(fc.property(fc.array(fc.constantFrom("a", "b", ".", "..", "", "/", "//")), (pieces) => {
      const once = p(pieces.join("/"))
      return p(once.toString()).equals(once)
    }))
  })

  it("property: join strips slashes around a segment, so a surrounding / changes nothing", () => {
    fc.assert(fc.property(absolute, segment, (base, s) => base.join(`/${s}/`).equals(base.join(s))))
  })

  it("property: relativeTo undoes joinpath", () => {
    fc.assert(fc.property(absolute, fc.array(segment, { minLength: 1, maxLength: 4 }), (base, segs) => {
      const below = base.joinpath(...segs)
      return base.joinpath(below.relativeTo(base)).equals(below)
    }))
  })

  it("property: stem + suffix is the name, and suffix is the last of suffixes", () => {
    fc.assert(fc.property(segment, (name) => {
      const path = fs.path("dir").join(name)
      const suffixes = path.suffixes
      return path.stem + path.suffix === path.name &&
        (path.suffix === "" || suffixes[suffixes.length - 1] === path.suffix)
    }))
  })

  it("property: an absolute path has one parent per segment, ending at the root", () => {
    fc.assert(fc.property(absolute, (path) => {
      const parents = path.parents
      return parents.length === path.parts.length - 1 &&
        (parents.length === 0 || parents[parents.length - 1]!.equals(fs.root))
    }))
  })
})
