# cmake -DSEARCH="dir1;dir2" -DOUT=dir -P collect_seeds.cmake
# Copies every *.wasm found one level under each SEARCH directory (the spec suite's
# modules, converted by wast2json, live in <build>/tests/spec/NAME/) or directly in
# it into OUT: the fuzzer's seed corpus. Runs at build time, after the conversion.
file(MAKE_DIRECTORY ${OUT})
set(found)
foreach(dir ${SEARCH})
  file(GLOB direct ${dir}/*.wasm)
  file(GLOB nested ${dir}/*/*.wasm)
  list(APPEND found ${direct} ${nested})
endforeach()
if(found)
  file(COPY ${found} DESTINATION ${OUT})
endif()
list(LENGTH found count)
message(STATUS "fuzz seeds: ${count} modules in ${OUT}")
