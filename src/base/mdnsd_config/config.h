/* Intentionally empty: libmdnsd's public headers include "config.h", which the Debian
 * package does not ship. CMakeLists.txt puts this directory on the include path of
 * src/base/mdns*.c only. */
