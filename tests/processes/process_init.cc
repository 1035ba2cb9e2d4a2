#include "tests/processes/process_init.h"

#include <curl/curl.h>
#include <zookeeper/zookeeper.h>

#include <cstdio>
#include <cstdlib>

namespace mast::testing {

void InitProcessLibraries() {
  static const bool done = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      std::fprintf(stderr, "curl_global_init failed\n");
      std::abort();
    }
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    return true;
  }();
  (void)done;
}

}  // namespace mast::testing
