import { FileSystemContract, MemoryFileSystem } from "@cerulean/testing"

// As root: permission bits never stop the user.
FileSystemContract.run("MemoryFileSystem (root-like)", {
  layer: MemoryFileSystem.layer,
  scratch: FileSystemContract.scratchIn((fs) => fs.root),
  makeFifo: MemoryFileSystem.mkfifo,
  makeDevice: MemoryFileSystem.mknod,
  owner: { uid: 1000, gid: 1000 },
  features: { deniesAccess: false, mtimeResolution: 5 }
})

// As an ordinary user whose permission bits are checked.
FileSystemContract.run("MemoryFileSystem (enforcePermissions)", {
  layer: MemoryFileSystem.layerWith({ enforcePermissions: true, uid: 1001, gid: 1002, umask: 0o027 }),
  scratch: FileSystemContract.scratchIn((fs) => fs.root),
  makeFifo: MemoryFileSystem.mkfifo,
  owner: { uid: 1001, gid: 1002 },
  features: { umask: 0o027, mtimeResolution: 5 }
})
