#pragma once

namespace mast::testing {

// The process-wide library setup that Mast's programs do in main() and its
// libraries leave to them: curl_global_init (not thread-safe, so it must run
// before any thread creates a curl handle: HttpTransport, MastdProcess's
// metrics scrape) and the ZooKeeper C client's log level (WARN: its INFO lines,
// one per connect attempt, drown the test output). Idempotent; call it from a
// main() before starting threads. Test binaries get it from the gtest
// environment in process_init_environment.cc.
void InitProcessLibraries();

}  // namespace mast::testing
