import { assert, describe, it } from "@effect/vitest"
import { createRequire } from "node:module"

describe("ssh2 native crypto", () => {
  it("the binding is built for the Node in use and loaded (else ciphers run 1.5-3.7x slower in JS)", () => {
    const require = createRequire(import.meta.url)
    const crypto: unknown = require("ssh2/lib/protocol/crypto.js")
    assert.isTrue(
      typeof crypto === "object" && crypto !== null && "bindingAvailable" in crypto && crypto.bindingAvailable === true,
      `ssh2's sshcrypto.node is not loaded under Node ${process.version}: reinstall with ` +
        "`source scripts/toolchain.sh && npm rebuild ssh2 cpu-features` " +
        "(npm_config_nodedir must point at Node 24's headers)"
    )
  })
})
