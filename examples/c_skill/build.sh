#!/bin/sh
# Builds json_pointer_c.wasm: clang-19 compiles for wasm32-wasi against Debian's wasi-libc
# (WASI preview 1); rustup's wasm-component-ld links like wasm-ld (it runs LLVM's), embeds
# the component type from gen/ (`wit-bindgen c` output) and adapts preview 1 to a WASI 0.2
# component (`reactor`: a library with exports, no main).
set -eu
cd "$(dirname "$0")"
host=$(rustc -vV | sed -n 's/^host: //p')
component_ld="$(rustc --print sysroot)/lib/rustlib/$host/bin/wasm-component-ld"
mkdir -p obj
for src in skill.c json.c gen/skill.c; do
    clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Werror \
        -c "$src" -o "obj/$(echo "$src" | tr / _ | sed s/\.c$//).o"
done
"$component_ld" --wasm-ld-path /usr/lib/llvm-19/bin/wasm-ld --wasi-adapter reactor \
    -o json_pointer_c.wasm \
    /usr/lib/wasm32-wasi/crt1-reactor.o obj/skill.o obj/json.o obj/gen_skill.o gen/skill_component_type.o \
    -L/usr/lib/wasm32-wasi -lc /usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a \
    --no-entry --strip-all
rm -rf obj
