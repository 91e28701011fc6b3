# Builds C sources into wasm32-wasi modules with clang-14 and wasi-libc (Debian's
# wasi-libc puts its sysroot where clang looks by default).
find_program(LIQUID_WASM_CC NAMES clang-14 clang REQUIRED)

# liquid_add_wasm(NAME OUTPUT_DIR SOURCE [EXTRA_FLAGS...]) -> target wasm_NAME, file OUTPUT_DIR/NAME.wasm
function(liquid_add_wasm name out_dir source)
  set(out ${out_dir}/${name}.wasm)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${LIQUID_WASM_CC} --target=wasm32-wasi -O2 -Wall -Wextra -Werror
            -Wl,--strip-debug ${ARGN} -o ${out} ${source}
    DEPENDS ${source}
    COMMENT "wasm32-wasi ${name}.wasm"
    VERBATIM)
  add_custom_target(wasm_${name} ALL DEPENDS ${out})
endfunction()

# An example states extra compiler flags in a line of its own source, e.g.
#   // wasm-flags: -mexec-model=reactor
# for a reactor (no main; the host calls _initialize, then its exports), so adding
# an example never needs an edit here.
function(liquid_wasm_flags_of source out_var)
  file(STRINGS ${source} lines REGEX "^// wasm-flags: ")
  set(flags)
  foreach(line ${lines})
    string(REGEX REPLACE "^// wasm-flags: " "" line "${line}")
    separate_arguments(line UNIX_COMMAND "${line}")
    list(APPEND flags ${line})
  endforeach()
  set(${out_var} ${flags} PARENT_SCOPE)
endfunction()

file(GLOB LIQUID_EXAMPLE_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*.c)
foreach(src ${LIQUID_EXAMPLE_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  liquid_wasm_flags_of(${src} flags)
  liquid_add_wasm(${name} ${CMAKE_BINARY_DIR}/examples ${src} ${flags})
endforeach()
