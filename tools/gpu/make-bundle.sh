#!/usr/bin/env bash
# Packs what the GPU machine needs to run a latentkit script with onnxruntime-node:
# a Node binary, onnxruntime-node's native library, an esbuild bundle of ENTRY.ts (the project's own
# packages inlined), the Vulkan loader debs, and tools/full-size (to make the SD 1.5-shaped model there).
# Everything goes into .gpu/ at the repository root, which git ignores through .git/info/exclude.
#
#   npm run build && tools/gpu/make-bundle.sh bench/pipeline.bench.ts   # from the repository root
# (the entry is bundled against the built dist/ of every package, so build first)
#
# Then, on the GPU machine, with .gpu/ sent along:   bash .gpu/run.sh <args for ENTRY>
# (run.sh is copied from beside this script; read it: it unpacks, sets up Vulkan, and can make the model).
set -euo pipefail
entry=${1:?usage: make-bundle.sh ENTRY.ts}
root=$(git rev-parse --show-toplevel); cd "$root"
here=$(cd "$(dirname "$0")" && pwd)
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/app/node_modules
ortdir=node_modules/onnxruntime-node
lib=$(ls $ortdir/bin/napi-v*/linux/x64/libonnxruntime.so.1)
bindir=$(dirname "$lib"); rel=${bindir#"$ortdir/"}
echo "== node and onnxruntime (xz, about 2 minutes on 2 cores)"
[ -f "${TMPDIR:-/tmp}/latentkit-node.xz" ] || xz -T2 -6 -c "$(command -v node)" > "${TMPDIR:-/tmp}/latentkit-node.xz"
cp "${TMPDIR:-/tmp}/latentkit-node.xz" .gpu/node.xz
xz -T2 -6 -c "$lib" > .gpu/ort.xz
echo "== bundle $entry"
echo '{}' > .gpu/tsconfig.json   # no "paths": every @latentkit/* import resolves to its built dist/
npx esbuild "$entry" --bundle --platform=node --format=esm --target=node20 --outfile=.gpu/app/entry.mjs \
  --external:onnxruntime-node --external:onnxruntime-common --tsconfig=.gpu/tsconfig.json --log-level=warning
echo '{"type":"module"}' > .gpu/app/package.json
mkdir -p ".gpu/app/$ortdir/$rel"
cp -r $ortdir/package.json $ortdir/dist $ortdir/lib ".gpu/app/$ortdir/"
cp "$bindir/onnxruntime_binding.node" ".gpu/app/$ortdir/$rel/"
cp -r node_modules/onnxruntime-common .gpu/app/node_modules/
find .gpu/app -name '*.map' -delete
echo "== Vulkan loader and GL dispatch debs (the NVIDIA Vulkan driver needs libglvnd)"
mkdir -p ${TMPDIR:-/tmp}/latentkit-apt/partial .gpu/debs
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=${TMPDIR:-/tmp}/latentkit-apt"
[ -n "$(ls ${TMPDIR:-/tmp}/latentkit-apt/*Packages* 2>/dev/null)" ] || apt-get $o update -qq
(cd .gpu/debs && apt-get $o download -qq libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0)
[ -d tools/full-size ] && tar cf .gpu/full-size.tar tools/full-size tests/fixtures/clip
cp "$here/run.sh" .gpu/run.sh
du -sh .gpu; echo "working tree + .gpu must stay under 64 MiB:"; du -sh --exclude=.git --exclude=node_modules . 2>/dev/null || true
